import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, BOB, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { endpoints, userinfo } from '../support/oauth_requests.js';

// The userinfo endpoint: the three ways to present the token (RFC 6750 2.1-2.2), claims
// filtered by the granted scopes, and nothing for a disabled user.

const PROFILE_CLAIMS = ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'];
const EMAIL_CLAIMS = ['email', 'email_verified'];

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;
let aliceSub: string;

beforeAll(async () => {
  gh = await startGatehouse();
  aliceSub = (await gh.createUser(ALICE)).sub;
  await gh.createUser(BOB);
  rp = await discover(gh.issuer, 'web', SECRETS.web);
});
afterAll(() => gh?.close());

async function accessToken(scope: string, who: { username: string; password: string } = ALICE): Promise<string> {
  const { tokens } = await signIn(rp, { scope, credentials: { login: who.username, password: who.password }, consent: 'allow' });
  return tokens.access_token;
}

describe('userinfo', () => {
  it('answers GET and POST with a Bearer header and POST with access_token in the form, alike', async () => {
    const token = await accessToken('openid profile email');
    const answers = await Promise.all([userinfo(gh.issuer, token, 'get'), userinfo(gh.issuer, token, 'post'), userinfo(gh.issuer, token, 'form')]);
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        sub: aliceSub,
        name: ALICE.name,
        given_name: ALICE.given_name,
        family_name: ALICE.family_name,
        preferred_username: ALICE.username,
        updated_at: expect.any(Number),
        email: ALICE.email,
        email_verified: false,
      });
    }
  });

  it('returns only the profile claims for scope profile', async () => {
    const res = await userinfo(gh.issuer, await accessToken('openid profile'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['sub', ...PROFILE_CLAIMS].sort());
  });

  it('returns only the email claims, and no name, for scope email', async () => {
    const res = await userinfo(gh.issuer, await accessToken('openid email'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['sub', ...EMAIL_CLAIMS].sort());
    expect(res.body.name).toBeUndefined();
  });

  it('returns only sub for scope openid', async () => {
    const res = await userinfo(gh.issuer, await accessToken('openid'));
    expect(res.body).toEqual({ sub: aliceSub });
  });

  it('refuses a request without a token, or with a token it never issued, with 401 and WWW-Authenticate', async () => {
    const none = await fetch((await endpoints(gh.issuer)).userinfo);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);

    const bogus = await userinfo(gh.issuer, 'not-a-token-we-issued');
    expect(bogus.status).toBe(401);
    expect(bogus.body.error).toBe('invalid_token');
  });

  it('refuses the token of a user who has since been disabled', async () => {
    const token = await accessToken('openid profile', BOB);
    expect((await userinfo(gh.issuer, token)).status).toBe(200);

    await createUsersRepo(gh.testDb.db).setDisabled(BOB.username, true);
    const res = await userinfo(gh.issuer, token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.body.name).toBeUndefined();
  });
});
