import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SECRETS } from '../support/fixtures.js';
import { tokenRequest } from '../support/oauth_requests.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  authorizationHeader,
  extendPairs,
  formBody,
  fuzzOptions,
  fuzzTimeout,
  oauthValue,
  percentEncode,
  rawBody,
  rawValue,
  lookalikeUri,
  wrongJwt,
  type RawPair,
} from './hostile_input.js';
import { sendSafely } from './safe_response.js';

// Token introspection (RFC 7662) and revocation (RFC 7009) under hostile input: any body and
// credentials; known clients presenting junk, forged, altered or other clients' tokens with any
// token_type_hint. Never a 5xx, a stack trace or a hang; and the session and refresh token
// made before the fuzzing still work (nothing the fuzzing sends can name them).

const RUNS = 40;
let t: FuzzTarget;
/** real tokens that are not the witness's: a service's JWT and opaque access tokens */
let realTokens: string[];

beforeAll(async () => {
  t = await startFuzzTarget();
  const service = { clientId: 'service', secret: SECRETS.service };
  const jwt = await tokenRequest(t.gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
  const opaque = await tokenRequest(t.gh.issuer, service, { grant_type: 'client_credentials', scope: 'notes:read' });
  realTokens = [jwt.body.access_token as string, opaque.body.access_token as string];
});
afterAll(() => t?.close());

function tokenValue(): fc.Arbitrary<string> {
  const altered = fc.tuple(fc.constantFrom(...realTokens), fc.nat(), rawValue).map(([tok, at, junk]) => percentEncode(tok.slice(0, at % tok.length)) + junk);
  return fc.oneof(
    { weight: 3, arbitrary: oauthValue(wrongJwt(t.jwt), lookalikeUri(t.policy.registered)) },
    { weight: 2, arbitrary: fc.constantFrom(...realTokens).map(percentEncode) },
    { weight: 2, arbitrary: altered },
  );
}

const HINTS = ['access_token', 'refresh_token', 'id_token', 'authorization_code', 'client_credentials', 'urn:x', ''];

for (const endpoint of ['/token/introspection', '/token/revocation']) {
  describe(`${endpoint} under hostile input`, () => {
    it(
      'answers any body with any credentials safely',
      async () => {
        await fc.assert(
          fc.asyncProperty(rawBody(), authorizationHeader(t.clients, wrongJwt(t.jwt)), acceptHeader, async (body, authorization, accept) => {
            await sendSafely(t.gh.server, { method: 'POST', path: endpoint, headers: { authorization, accept }, body }, t.policy);
          }),
          fuzzOptions(RUNS),
        );
      },
      fuzzTimeout(RUNS, 40),
    );

    it(
      'answers known clients presenting any token with any hint safely',
      async () => {
        const base = fc.tuple(tokenValue(), fc.option(fc.oneof(fc.constantFrom(...HINTS), rawValue), { nil: undefined })).map(([token, hint]): RawPair[] =>
          hint === undefined
            ? [['token', token]]
            : [
                ['token', token],
                ['token_type_hint', hint],
              ],
        );
        await fc.assert(
          fc.asyncProperty(extendPairs(base, tokenValue()), authorizationHeader(t.clients, wrongJwt(t.jwt)), async (pairs, authorization) => {
            await sendSafely(
              t.gh.server,
              { method: 'POST', path: endpoint, headers: { authorization, accept: 'application/json' }, body: formBody(pairs) },
              t.policy,
            );
          }),
          fuzzOptions(RUNS),
        );
      },
      fuzzTimeout(RUNS, 40),
    );
  });
}

describe('after the fuzzing', () => {
  it('the session and the refresh token made before it still work', async () => {
    await t.witness.expectIntact();
  });
});
