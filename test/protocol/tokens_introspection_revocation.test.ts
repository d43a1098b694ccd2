import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, OPAQUE_API, RP, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { introspect, revoke, tokenRequest, userinfo } from '../support/oauth_requests.js';

// Who may introspect (RFC 7662) and revoke (RFC 7009) which token. Introspection: the client it
// was issued to, and for an API's opaque tokens, the clients registered for that API; nobody
// else, and never a public client. Revocation: the client it was issued to, public clients
// included (a browser app revokes its tokens at sign-out); never another client.

const web = { clientId: 'web', secret: SECRETS.web };
const service = { clientId: 'service', secret: SECRETS.service };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };
const firstParty = { clientId: 'first-party', secret: SECRETS.firstParty };
const spa = { clientId: 'spa' };
const alice = { login: ALICE.username, password: ALICE.password };

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;
let aliceSub: string;

beforeAll(async () => {
  gh = await startGatehouse();
  aliceSub = (await gh.createUser(ALICE)).sub;
  rp = await discover(gh.issuer, 'web', SECRETS.web);
});
afterAll(() => gh?.close());

const signInWeb = async (scope = 'openid profile email') => (await signIn(rp, { scope, credentials: alice, consent: 'allow' })).tokens;

async function notesToken(): Promise<string> {
  const res = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'notes:read' });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

describe('introspection', () => {
  it('tells a client about its own userinfo access token', async () => {
    const tokens = await signInWeb();
    const res = await introspect(gh.issuer, web, tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.body).toMatchObject({
      active: true,
      sub: aliceSub,
      client_id: 'web',
      scope: 'openid profile email',
      token_type: 'Bearer',
      iss: gh.issuer,
    });
    expect(res.body.exp).toBeTypeOf('number');
  });

  it('lets a client registered for an API introspect that API’s opaque tokens issued to another client', async () => {
    const token = await notesToken();
    const res = await introspect(gh.issuer, introspector, token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, client_id: 'service', scope: 'notes:read', aud: OPAQUE_API });
  });

  it('answers active: false to a client with no claim on the token', async () => {
    // first-party is registered for things:read only, not for the Notes API nor as the token's client.
    const notes = await introspect(gh.issuer, firstParty, await notesToken());
    expect(notes.status).toBe(200);
    expect(notes.body).toEqual({ active: false });

    const tokens = await signInWeb();
    const userinfoToken = await introspect(gh.issuer, introspector, tokens.access_token);
    expect(userinfoToken.body).toEqual({ active: false });
  });

  it('answers active: false to a public client, even for its own token', async () => {
    const spaRp = await discover(gh.issuer, 'spa');
    const { tokens } = await signIn(spaRp, { scope: 'openid profile', redirectUri: `${RP}/spa/callback`, credentials: alice, consent: 'allow' });
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);
    const own = await introspect(gh.issuer, spa, tokens.access_token);
    expect(own.body).toEqual({ active: false });
    const others = await introspect(gh.issuer, spa, await notesToken());
    expect(others.body).toEqual({ active: false });
  });

  it('requires client authentication', async () => {
    const res = await introspect(gh.issuer, { clientId: 'web', secret: 'wrong' }, await notesToken());
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('answers active: false for a token it never issued', async () => {
    const res = await introspect(gh.issuer, web, 'not-a-token-we-issued');
    expect(res.body).toEqual({ active: false });
  });
});

describe('revocation', () => {
  it('revokes a client’s own access token: inactive at introspection, 401 at userinfo', async () => {
    const tokens = await signInWeb();
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);

    const res = await revoke(gh.issuer, web, tokens.access_token);
    expect(res.status).toBe(200);
    expect((await introspect(gh.issuer, web, tokens.access_token)).body).toEqual({ active: false });
    const info = await userinfo(gh.issuer, tokens.access_token);
    expect(info.status).toBe(401);
    expect(info.body.error).toBe('invalid_token');
  });

  it('revokes a refresh token and with it the grant’s access tokens', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid profile offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    expect((await revoke(gh.issuer, web, tokens.refresh_token!)).status).toBe(200);
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.body.error).toBe('invalid_grant');
    expect((await introspect(gh.issuer, web, tokens.access_token)).body).toEqual({ active: false });
  });

  it('ignores a revocation by a client the token was not issued to', async () => {
    const tokens = await signInWeb();
    // RFC 7009 2.2: the answer is 200 either way; the token must survive.
    expect((await revoke(gh.issuer, firstParty, tokens.access_token)).status).toBe(200);
    expect((await introspect(gh.issuer, web, tokens.access_token)).body.active).toBe(true);
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);

    const notes = await notesToken();
    expect((await revoke(gh.issuer, introspector, notes)).status).toBe(200);
    expect((await introspect(gh.issuer, service, notes)).body.active).toBe(true);
    expect((await revoke(gh.issuer, service, notes)).status).toBe(200);
    expect((await introspect(gh.issuer, service, notes)).body).toEqual({ active: false });
  });

  it('lets a public client revoke its own access and refresh tokens (client_id alone, RFC 7009 2.1)', async () => {
    const spaRp = await discover(gh.issuer, 'spa');
    const { tokens } = await signIn(spaRp, {
      scope: 'openid profile offline_access',
      redirectUri: `${RP}/spa/callback`,
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    expect(tokens.refresh_token).toBeTruthy();
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);

    // Sign-out in the SPA: revoke the access token, then the refresh token.
    expect((await revoke(gh.issuer, spa, tokens.access_token)).status).toBe(200);
    const info = await userinfo(gh.issuer, tokens.access_token);
    expect(info.status).toBe(401);
    expect(info.body.error).toBe('invalid_token');

    expect((await revoke(gh.issuer, spa, tokens.refresh_token!)).status).toBe(200);
    const refreshed = await tokenRequest(gh.issuer, spa, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('a public client revoking its refresh token first also ends the access tokens of that grant', async () => {
    const spaRp = await discover(gh.issuer, 'spa');
    const { tokens } = await signIn(spaRp, {
      scope: 'openid offline_access',
      redirectUri: `${RP}/spa/callback`,
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    expect((await revoke(gh.issuer, spa, tokens.refresh_token!)).status).toBe(200);
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(401);
  });

  it('never lets a public client revoke another client’s token, nor another client revoke a public client’s', async () => {
    // The attacker knows only client_ids, which are not secret: 200 as RFC 7009 2.2 says, and nothing revoked.
    const webTokens = await signIn(rp, { scope: 'openid profile offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    expect((await revoke(gh.issuer, spa, webTokens.tokens.access_token)).status).toBe(200);
    expect((await revoke(gh.issuer, spa, webTokens.tokens.refresh_token!)).status).toBe(200);
    expect((await userinfo(gh.issuer, webTokens.tokens.access_token)).status).toBe(200);
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: webTokens.tokens.refresh_token! });
    expect(refreshed.status).toBe(200);

    const spaRp = await discover(gh.issuer, 'spa');
    const { tokens } = await signIn(spaRp, { scope: 'openid profile', redirectUri: `${RP}/spa/callback`, credentials: alice, consent: 'allow' });
    expect((await revoke(gh.issuer, web, tokens.access_token)).status).toBe(200);
    expect((await revoke(gh.issuer, firstParty, tokens.access_token)).status).toBe(200);
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);
  });
});
