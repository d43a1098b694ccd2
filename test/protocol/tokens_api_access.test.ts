import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, API, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { endpoints, introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';

// Which access token a user's sign-in yields: a JWT for the API when an API scope is asked for
// (no `resource` needed), an opaque userinfo token for OpenID scopes only.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let aliceSub: string;

beforeAll(async () => {
  gh = await startGatehouse();
  aliceSub = (await gh.createUser(ALICE)).sub;
  rp = await discover(gh.issuer, 'web', SECRETS.web);
  jwks = createRemoteJWKSet(new URL((await endpoints(gh.issuer)).jwks));
});
afterAll(() => gh?.close());

describe('access tokens from a user sign-in', () => {
  it('returns a JWT for the API that owns an API scope asked at sign-in', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid things:read', credentials: alice, consent: 'allow' });
    expect(tokens.id_token).toBeTypeOf('string');
    expect(tokens.scope).toBe('things:read');

    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ aud: API, sub: aliceSub, client_id: 'web', scope: 'things:read' });
    expect(payload.jti).toBeTypeOf('string');
    expect(payload.exp! - payload.iat!).toBe(600);

    // An API token is not a userinfo token, and JWTs are not introspected.
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(401);
    expect((await introspect(gh.issuer, web, tokens.access_token)).body.error).toBe('unsupported_token_type');
  });

  it('returns an opaque token that answers userinfo for OpenID scopes only', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid profile', credentials: alice, consent: 'allow' });
    expect(tokens.access_token.split('.')).toHaveLength(1);
    expect(tokens.scope).toBe('openid profile');
    const info = await userinfo(gh.issuer, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: aliceSub, name: ALICE.name });
    expect((await introspect(gh.issuer, web, tokens.access_token)).body).toMatchObject({ active: true, sub: aliceSub, scope: 'openid profile' });
  });

  it('lets a refresh trade between the API token and a userinfo token of the same grant', async () => {
    const { tokens } = await signIn(rp, {
      scope: 'openid profile offline_access things:read',
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    await jwtVerify(tokens.access_token, jwks, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });

    // OpenID scopes only: an opaque token for userinfo, not an API token without scope.
    const forUserinfo = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: 'openid profile' });
    expect(forUserinfo.status).toBe(200);
    expect(forUserinfo.body.scope).toBe('openid profile');
    const info = await userinfo(gh.issuer, forUserinfo.body.access_token as string);
    expect(info.status).toBe(200);
    expect(info.body.name).toBe(ALICE.name);

    // And back to the API.
    const forApi = await tokenRequest(gh.issuer, web, {
      grant_type: 'refresh_token',
      refresh_token: forUserinfo.body.refresh_token as string,
      scope: 'things:read',
    });
    expect(forApi.status).toBe(200);
    const { payload } = await jwtVerify(forApi.body.access_token as string, jwks, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: aliceSub, scope: 'things:read' });
  });

  it('refuses an API scope the user did not consent to at refresh', async () => {
    const { tokens } = await signIn(rp, {
      scope: 'openid offline_access things:read',
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    const res = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: 'things:write' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });
});
