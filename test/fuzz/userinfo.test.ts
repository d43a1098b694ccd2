import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ALICE, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  authorizationHeader,
  formBody,
  fuzzOptions,
  fuzzTimeout,
  headerSafe,
  percentEncode,
  rawBody,
  rawQuery,
  shortText,
  wrongJwt,
} from './hostile_input.js';
import { sendSafely } from './safe_response.js';

// The userinfo endpoint under hostile input: any method, Authorization header, DPoP header,
// query and body; a real access token altered, sent under the wrong scheme, or sent twice.
// Never a 5xx, a stack trace or a hang; and the session and refresh token made before the
// fuzzing still work.

const RUNS = 50;
let t: FuzzTarget;
let accessToken: string;

beforeAll(async () => {
  t = await startFuzzTarget();
  const web = await discover(t.gh.issuer, 'web', SECRETS.web);
  const { tokens } = await signIn(web, { scope: 'openid profile email', credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
  accessToken = tokens.access_token;
});
afterAll(() => t?.close());

describe('userinfo under hostile input', () => {
  it(
    'answers any request safely',
    async () => {
      const jwt = wrongJwt(t.jwt);
      const realTokenHeader = fc
        .tuple(fc.constantFrom('Bearer', 'bearer', 'DPoP', 'Basic', 'Bearer  ', ''), fc.nat(), shortText)
        .map(([scheme, cut, junk]) => `${scheme} ${accessToken.slice(0, accessToken.length - (cut % 4))}${headerSafe(junk)}`);
      const authorization = fc.oneof(authorizationHeader(t.clients, jwt), realTokenHeader, fc.constant(`Bearer ${accessToken}`));
      const method = fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'OPTIONS');
      const body = fc.option(fc.oneof(rawBody(), fc.constant(formBody([['access_token', percentEncode(accessToken)]]))), { nil: undefined });
      const query = fc.oneof(rawQuery, fc.constant(`access_token=${percentEncode(accessToken)}`));
      const dpop = fc.option(fc.oneof(jwt, shortText.map(headerSafe)), { nil: undefined, freq: 3 });
      await fc.assert(
        fc.asyncProperty(method, query, authorization, body, dpop, acceptHeader, async (m, q, auth, b, d, accept) => {
          await sendSafely(
            t.gh.server,
            { method: m, path: `/me?${q}`, headers: { authorization: auth, dpop: d, accept }, ...(b ? { body: b } : {}) },
            t.policy,
          );
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 40),
  );
});

describe('after the fuzzing', () => {
  it('the session and the refresh token made before it still work', async () => {
    await t.witness.expectIntact();
  });
});
