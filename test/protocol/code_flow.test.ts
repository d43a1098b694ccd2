import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE } from '../support/fixtures.js';
import { signIn, oidc } from '../support/relying_party.js';

let gh: RunningGatehouse;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
});
afterAll(() => gh?.close());

describe('authorization code flow with PKCE', () => {
  it('signs Alice in, issues an ID token verified against the JWKS, and answers userinfo', async () => {
    const rp = await rpFor(gh, 'web');
    const { tokens, seen, nonce } = await signIn(rp, {
      scope: 'openid profile email',
      credentials: { login: ALICE.username, password: ALICE.password },
      consent: 'allow',
    });
    expect(seen).toEqual({ login: 1, consent: 1 });
    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: gh.issuer, audience: 'web' });
    expect(payload.nonce).toBe(nonce);
    expect(payload.email).toBeUndefined(); // conformIdTokenClaims: scope claims come from userinfo
    expect(payload.auth_time).toBeTypeOf('number');
    expect(payload.sid).toBeTypeOf('string');
    expect(payload.at_hash).toBeTypeOf('string');
    const claims = tokens.claims()!;
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ email: ALICE.email, name: ALICE.name, preferred_username: ALICE.username });
  });
});
