import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { API, OPAQUE_API, RP } from '../support/fixtures.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  authorizationHeader,
  extendPairs,
  formBody,
  fuzzOptions,
  fuzzTimeout,
  headerSafe,
  lookalikeUri,
  oauthValue,
  percentEncode,
  rawBody,
  shortText,
  wrongJwt,
  type RawPair,
} from './hostile_input.js';
import { sendSafely } from './safe_response.js';

// The token endpoint under hostile input: any body, any content type, any Authorization and
// DPoP header, known clients with random grants and parameters, forged client assertions.
// Every answer is an OAuth error or a token; never a 5xx, a stack trace or a hang; and the
// session and refresh token made before the fuzzing still work.

const RUNS = 50;
let t: FuzzTarget;

beforeAll(async () => {
  t = await startFuzzTarget();
});
afterAll(() => t?.close());

const GRANTS = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  'implicit',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:openid:params:grant-type:ciba',
];

const dpopHeader = (jwt: fc.Arbitrary<string>) => fc.option(fc.oneof(jwt, shortText.map(headerSafe)), { nil: undefined, freq: 3 });

describe('token endpoint under hostile input', () => {
  it(
    'answers any body with any credentials safely',
    async () => {
      const jwt = wrongJwt(t.jwt);
      await fc.assert(
        fc.asyncProperty(rawBody(), authorizationHeader(t.clients, jwt), dpopHeader(jwt), acceptHeader, async (body, authorization, dpop, accept) => {
          await sendSafely(t.gh.server, { method: 'POST', path: '/token', headers: { authorization, dpop, accept }, body }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 40),
  );

  it(
    'answers a known client with any grant and random parameters safely',
    async () => {
      const jwt = wrongJwt(t.jwt);
      const value = oauthValue(jwt, fc.oneof(lookalikeUri(t.policy.registered), fc.constantFrom(API, OPAQUE_API, `${API}/`, 'https://unknown.example')));
      const grant = fc.oneof(fc.constantFrom(...GRANTS).map(percentEncode), value);
      const base = fc
        .tuple(grant, fc.constantFrom('things:read', 'notes:read', 'openid offline_access', 'things:write notes:read'))
        .map(([g, scope]): RawPair[] => [
          ['grant_type', g],
          ['scope', percentEncode(scope)],
          ['redirect_uri', percentEncode(`${RP}/callback`)],
        ]);
      // A client authenticates with Basic (right or wrong), client_secret_post, or a forged assertion.
      const auth = fc.oneof(
        authorizationHeader(t.clients, jwt).map((authorization) => ({ authorization, pairs: [] as RawPair[] })),
        fc.tuple(fc.constantFrom(...t.clients), fc.option(shortText, { nil: undefined })).map(([c, wrong]) => ({
          authorization: undefined,
          pairs: [
            ['client_id', percentEncode(c.clientId)],
            ['client_secret', percentEncode(wrong ?? c.secret ?? '')],
          ] as RawPair[],
        })),
        fc.tuple(fc.constantFrom(...t.clients), jwt).map(([c, assertion]) => ({
          authorization: undefined,
          pairs: [
            ['client_id', percentEncode(c.clientId)],
            ['client_assertion_type', percentEncode('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')],
            ['client_assertion', assertion],
          ] as RawPair[],
        })),
      );
      await fc.assert(
        fc.asyncProperty(extendPairs(base, value), auth, dpopHeader(jwt), async (pairs, { authorization, pairs: authPairs }, dpop) => {
          const body = formBody([...pairs, ...authPairs]);
          await sendSafely(t.gh.server, { method: 'POST', path: '/token', headers: { authorization, dpop, accept: 'application/json' }, body }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 40),
  );

  it(
    'answers other methods and query-string parameters safely',
    async () => {
      const method = fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
      await fc.assert(
        fc.asyncProperty(method, rawBody(), authorizationHeader(t.clients, wrongJwt(t.jwt)), async (m, body, authorization) => {
          await sendSafely(t.gh.server, { method: m, path: '/token?grant_type=client_credentials', headers: { authorization }, body }, t.policy);
        }),
        fuzzOptions(Math.ceil(RUNS / 3)),
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
