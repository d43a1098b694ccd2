import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';

// Refresh tokens: issued only for offline_access with consent, rotated on every use, and a
// rotated token presented again revokes everything the grant issued.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;

beforeAll(async () => {
  gh = await startGatehouse();
  await gh.createUser(ALICE);
  rp = await discover(gh.issuer, 'web', SECRETS.web);
});
afterAll(() => gh?.close());

async function signInOffline(scope = 'openid profile email offline_access') {
  const { tokens } = await signIn(rp, { scope, params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
  return tokens;
}

const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
  tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });

describe('refresh tokens', () => {
  it('rotates: a refresh returns a new access token and a new refresh token', async () => {
    const tokens = await signInOffline();
    expect(tokens.refresh_token).toBeTypeOf('string');

    const res = await refresh(tokens.refresh_token!);
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBeTypeOf('string');
    expect(res.body.access_token).not.toBe(tokens.access_token);
    expect(res.body.refresh_token).toBeTypeOf('string');
    expect(res.body.refresh_token).not.toBe(tokens.refresh_token);
    expect(res.body.id_token).toBeTypeOf('string');

    const info = await userinfo(gh.issuer, res.body.access_token as string);
    expect(info.status).toBe(200);
    expect(info.body.email).toBe(ALICE.email);

    // The new refresh token works in its turn.
    const again = await refresh(res.body.refresh_token as string);
    expect(again.status).toBe(200);
  });

  it('revokes the whole grant when a rotated refresh token is presented again', async () => {
    const tokens = await signInOffline();
    const first = await refresh(tokens.refresh_token!);
    expect(first.status).toBe(200);
    const newAccess = first.body.access_token as string;
    const newRefresh = first.body.refresh_token as string;
    expect((await introspect(gh.issuer, web, newAccess)).body.active).toBe(true);

    const replay = await refresh(tokens.refresh_token!);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    // Everything the grant issued is gone: the rotated-in refresh token and both access tokens.
    const afterReplay = await refresh(newRefresh);
    expect(afterReplay.status).toBe(400);
    expect(afterReplay.body.error).toBe('invalid_grant');
    expect((await introspect(gh.issuer, web, newAccess)).body).toEqual({ active: false });
    expect((await introspect(gh.issuer, web, tokens.access_token)).body).toEqual({ active: false });
    expect((await userinfo(gh.issuer, newAccess)).status).toBe(401);
  });

  it('refreshes with a narrower scope and the new token carries only that scope', async () => {
    const tokens = await signInOffline('openid profile email offline_access');
    const res = await refresh(tokens.refresh_token!, { scope: 'openid profile' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('openid profile');

    const info = await userinfo(gh.issuer, res.body.access_token as string);
    expect(info.status).toBe(200);
    expect(info.body.name).toBe(ALICE.name);
    expect(info.body.email).toBeUndefined();

    const introspection = await introspect(gh.issuer, web, res.body.access_token as string);
    expect(introspection.body).toMatchObject({ active: true, scope: 'openid profile' });
  });

  it('refuses to widen the scope on refresh', async () => {
    const tokens = await signInOffline('openid profile offline_access');
    const res = await refresh(tokens.refresh_token!, { scope: 'openid profile email' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
    expect(res.body.access_token).toBeUndefined();
  });

  it('issues no refresh token without offline_access', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid profile', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    expect(tokens.access_token).toBeTypeOf('string');
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('issues no refresh token for offline_access without prompt=consent (OIDC Core 11)', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid offline_access', credentials: alice, consent: 'allow' });
    expect(tokens.access_token).toBeTypeOf('string');
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('refuses a refresh token presented by another client', async () => {
    const tokens = await signInOffline();
    const res = await tokenRequest(
      gh.issuer,
      { clientId: 'first-party', secret: SECRETS.firstParty },
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});
