import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { authorize, discover } from '../support/relying_party.js';
import { introspect, tokenRequest } from '../support/oauth_requests.js';

// The same code, or the same refresh token, presented in several requests at once: exactly one
// may succeed, and the race counts as a replay, so the grant is revoked. (Sequential replay is
// covered by tokens_code_replay.test.ts and tokens_refresh.test.ts.)

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };
const CONCURRENT = 8;

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;

beforeAll(async () => {
  gh = await startGatehouse();
  await gh.createUser(ALICE);
  rp = await discover(gh.issuer, 'web', SECRETS.web);
});
afterAll(() => gh?.close());

async function signedInCode() {
  const { callback, codeVerifier } = await authorize(rp, {
    scope: 'openid profile offline_access',
    params: { prompt: 'consent' },
    credentials: alice,
    consent: 'allow',
  });
  return { code: callback.searchParams.get('code')!, codeVerifier };
}

describe('concurrent replay', () => {
  it('redeems one authorization code once however many requests race, and revokes the grant', async () => {
    const { code, codeVerifier } = await signedInCode();
    const form = { grant_type: 'authorization_code', code, redirect_uri: `${RP}/callback`, code_verifier: codeVerifier };
    const results = await Promise.all(Array.from({ length: CONCURRENT }, () => tokenRequest(gh.issuer, web, form)));
    const won = results.filter((r) => r.status === 200);
    expect(won.length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant').length).toBeGreaterThanOrEqual(CONCURRENT - 1);
    // The race was a replay: whatever the winner got no longer works.
    for (const r of won) expect((await introspect(gh.issuer, web, r.body.access_token as string)).body.active).toBe(false);
  });

  it('rotates one refresh token once however many requests race, and revokes the grant', async () => {
    const { code, codeVerifier } = await signedInCode();
    const first = await tokenRequest(gh.issuer, web, { grant_type: 'authorization_code', code, redirect_uri: `${RP}/callback`, code_verifier: codeVerifier });
    expect(first.status).toBe(200);
    const refreshToken = first.body.refresh_token as string;
    const results = await Promise.all(
      Array.from({ length: CONCURRENT }, () => tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: refreshToken })),
    );
    const won = results.filter((r) => r.status === 200);
    expect(won.length).toBeLessThanOrEqual(1);
    for (const r of won) {
      const next = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token as string });
      expect(next.body.error).toBe('invalid_grant');
    }
    expect((await introspect(gh.issuer, web, first.body.access_token as string)).body.active).toBe(false);
  });
});
