import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf } from '../support/factories.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { authorize, oidc, signIn } from '../support/relying_party.js';
import { startAuthorization, expectRedirect } from '../support/hosted_pages.js';
import { basicAuth, tokenRequest } from '../support/oauth_requests.js';
import request from 'supertest';
import type { UserAgent } from '../support/user_agent.js';

// A claim name with a lone surrogate (`\ud800` in the claims JSON) used to reach a jsonb write
// the database refuses; writes of one event-loop turn share a statement, so other users'
// refreshes made in that turn failed with it, and their rotated refresh tokens were lost.

const FP_CALLBACK = `${RP}/fp/callback`;
const firstParty = { clientId: 'first-party', secret: SECRETS.firstParty };
const alice = credentialsOf(ALICE);
const BAD_CLAIMS = ['{"id_token":{"\\ud800":null}}', '{"userinfo":{"email":{"value":"a\\udfffb"}}}', '{"id_token":{"x\\u0000":null}}'];
// Raced below: the unstorable text sits in the value of a claim the requested scope (email)
// covers, so dropping unknown or uncovered claim names cannot remove it: only the refusal before
// storage, or the batch's isolation, stands between it and the other requests' writes.
const RACED_CLAIMS = [
  '{"id_token":{"email":{"value":"a\\ud800b"}}}',
  '{"userinfo":{"email":{"value":"a\\udfffb"}}}',
  '{"id_token":{"email":{"values":["ok","x\\u0000"]}}}',
];

let gh: RunningGatehouse;
let fp: oidc.Configuration;
let ua: UserAgent;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  fp = await rpFor(gh, 'first-party');
  ({ ua } = await signIn(fp, { redirectUri: FP_CALLBACK, scope: 'openid', credentials: alice }));
});
afterAll(() => gh?.close());

/** A refresh token of its own grant, from the signed-in session (first-party: no pages). */
async function freshRefreshToken(): Promise<string> {
  const { callback, codeVerifier } = await authorize(fp, { ua, redirectUri: FP_CALLBACK, scope: 'openid offline_access', params: { prompt: 'consent' } });
  const tokens = await tokenRequest(gh.issuer, firstParty, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: FP_CALLBACK,
    code_verifier: codeVerifier,
  });
  expect(tokens.status).toBe(200);
  return tokens.body.refresh_token as string;
}

async function storedText(needle: string): Promise<number> {
  const { rows } = await gh.testDb.db.query<{ n: string }>(`SELECT count(*) AS n FROM oidc_models WHERE payload::text LIKE '%' || $1 || '%'`, [needle]);
  return Number(rows[0]!.n);
}

describe('a claims parameter holding what the database cannot store', () => {
  it('is invalid_request back to the client, for a signed-in user of a first-party client', async () => {
    for (const claims of BAD_CLAIMS) {
      const { landing, state } = await startAuthorization(fp, { ua, redirectUri: FP_CALLBACK, scope: 'openid', params: { claims } });
      const back = expectRedirect(landing);
      expect(back.searchParams.get('error'), claims).toBe('invalid_request');
      expect(back.searchParams.get('state')).toBe(state);
      expect(back.searchParams.get('code')).toBeNull();
    }
  });

  it('is invalid_request (400) at the pushed authorization endpoint, and nothing is stored', async () => {
    const stored = async () =>
      Number((await gh.testDb.db.query<{ n: string }>(`SELECT count(*) AS n FROM oidc_models WHERE model = 'PushedAuthorizationRequest'`)).rows[0]!.n);
    const before = await stored();
    for (const claims of BAD_CLAIMS) {
      const res = await request(gh.server)
        .post('/request')
        .set('authorization', basicAuth(firstParty))
        .type('form')
        .send(
          new URLSearchParams({
            client_id: 'first-party',
            response_type: 'code',
            scope: 'openid',
            redirect_uri: FP_CALLBACK,
            // PKCE is required: without it the request is invalid_request whatever its claims.
            code_challenge: 'x'.repeat(43),
            code_challenge_method: 'S256',
            claims,
          }).toString(),
        );
      expect(res.status, claims).toBe(400);
      const body = res.body as { error?: string; error_description?: string };
      expect(body.error, claims).toBe('invalid_request');
      expect(body.error_description, claims).toMatch(/NUL characters or unpaired surrogates/);
    }
    expect(await stored()).toBe(before);
  });

  it('never fails the refreshes of other requests served at the same moment', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 12; i++) tokens.push(await freshRefreshToken());
    const session = await ua.jar.getCookieString(gh.issuer);
    const badRequest = async (claims: string) => {
      const url = oidc.buildAuthorizationUrl(fp, {
        redirect_uri: FP_CALLBACK,
        scope: 'openid email',
        claims,
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      });
      return fetch(url, { headers: { cookie: session, accept: 'text/html' }, redirect: 'manual' });
    };
    const [refreshed, bad] = await Promise.all([
      Promise.all(tokens.map((refresh_token) => tokenRequest(gh.issuer, firstParty, { grant_type: 'refresh_token', refresh_token }))),
      Promise.all(Array.from({ length: 12 }, (_, i) => badRequest(RACED_CLAIMS[i % RACED_CLAIMS.length]!))),
    ]);
    expect(refreshed.map((r) => r.status)).toEqual(tokens.map(() => 200));
    // Each bad request is refused back at the client, and gets no code.
    for (const response of bad) {
      expect(response.status).toBe(303);
      const back = new URL(response.headers.get('location')!);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('code')).toBeNull();
    }
    // Each rotated token was stored: it works, once.
    const again = await Promise.all(
      refreshed.map((r) => tokenRequest(gh.issuer, firstParty, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token as string })),
    );
    expect(again.map((r) => r.status)).toEqual(tokens.map(() => 200));
  });
});

describe('claim names the provider does not serve', () => {
  it('are dropped before anything is stored; known ones within the scopes are kept', async () => {
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, made_up_claim_7f3a: null },
      userinfo: { another_made_up_9c2e: null },
      extra_member_5d1b: {},
    });
    const { callback, codeVerifier, nonce, state } = await authorize(fp, { ua, redirectUri: FP_CALLBACK, scope: 'openid email', params: { claims } });
    for (const name of ['made_up_claim_7f3a', 'another_made_up_9c2e', 'extra_member_5d1b']) expect(await storedText(name), name).toBe(0);
    const tokens = await oidc.authorizationCodeGrant(fp, callback, { pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state });
    expect(tokens.claims()!.email).toBe(ALICE.email);
  });
});
