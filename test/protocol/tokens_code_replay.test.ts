import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { authorize, discover } from '../support/relying_party.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { hashId } from '../../src/storage/storage_key.js';

// An authorization code is good once: a second redemption fails and takes down every token
// the first one issued (RFC 6749 4.1.2).

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

async function codeFor(scope: string, params: Record<string, string> = {}) {
  const { callback, codeVerifier } = await authorize(rp, { scope, params, credentials: alice, consent: 'allow' });
  const code = callback.searchParams.get('code');
  expect(code).toBeTypeOf('string');
  return { code: code!, codeVerifier };
}

const redeem = (code: string, codeVerifier: string) =>
  tokenRequest(gh.issuer, web, { grant_type: 'authorization_code', code, redirect_uri: `${RP}/callback`, code_verifier: codeVerifier });

describe('authorization code replay', () => {
  it('refuses a second redemption and revokes the tokens of the first', async () => {
    const { code, codeVerifier } = await codeFor('openid profile offline_access', { prompt: 'consent' });
    const first = await redeem(code, codeVerifier);
    expect(first.status).toBe(200);
    const accessToken = first.body.access_token as string;
    const refreshToken = first.body.refresh_token as string;
    expect(refreshToken).toBeTypeOf('string');
    expect((await introspect(gh.issuer, web, accessToken)).body.active).toBe(true);

    const second = await redeem(code, codeVerifier);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    expect(second.body.access_token).toBeUndefined();

    expect((await introspect(gh.issuer, web, accessToken)).body).toEqual({ active: false });
    expect((await userinfo(gh.issuer, accessToken)).status).toBe(401);
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('marks the code consumed in the database after the first redemption', async () => {
    const { code, codeVerifier } = await codeFor('openid profile');
    expect((await redeem(code, codeVerifier)).status).toBe(200);
    const { rows } = await gh.testDb.db.query<{ consumed: boolean }>(
      `SELECT consumed_at IS NOT NULL AS consumed FROM oidc_models WHERE model = 'AuthorizationCode' AND id = $1`,
      [hashId(code)],
    );
    expect(rows).toEqual([{ consumed: true }]);
  });

  it('refuses a code with the wrong PKCE verifier, or presented by another client', async () => {
    const { code, codeVerifier } = await codeFor('openid profile');
    const wrongVerifier = await redeem(code, `${codeVerifier.slice(0, -4)}AAAA`);
    expect(wrongVerifier.status).toBe(400);
    expect(wrongVerifier.body.error).toBe('invalid_grant');

    const { code: code2, codeVerifier: verifier2 } = await codeFor('openid profile');
    const otherClient = await tokenRequest(
      gh.issuer,
      { clientId: 'first-party', secret: SECRETS.firstParty },
      {
        grant_type: 'authorization_code',
        code: code2,
        redirect_uri: `${RP}/fp/callback`,
        code_verifier: verifier2,
      },
    );
    expect(otherClient.status).toBe(400);
    expect(otherClient.body.error).toBe('invalid_grant');
  });
});
