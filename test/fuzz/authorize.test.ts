import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RP } from '../support/fixtures.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  authorizationHeader,
  cookieHeader,
  extendPairs,
  fuzzOptions,
  fuzzTimeout,
  formBody,
  urlQuery,
  lookalikeUri,
  oauthValue,
  percentEncode,
  rawBody,
  rawQuery,
  unstorableClaims,
  wrongJwt,
  type RawPair,
} from './hostile_input.js';
import { send, sendSafely } from './safe_response.js';

// The authorization endpoint (GET /auth) and pushed authorization requests (POST /request)
// under hostile input: every answer is an OAuth error (a redirect to a registered redirect_uri,
// or an error page) or a normal answer, never a 5xx, a stack trace, a hang or a redirect
// anywhere else; and the session and refresh token made before the fuzzing still work.

const RUNS = 40;
let t: FuzzTarget;
let sessionCookie: string;

beforeAll(async () => {
  t = await startFuzzTarget();
  sessionCookie = await t.browserSession();
});
afterAll(() => t?.close());

const REDIRECTS: Record<string, string> = { web: `${RP}/callback`, spa: `${RP}/spa/callback`, 'first-party': `${RP}/fp/callback` };
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/** A request each known client could really make, as raw pairs. */
const workingRequest = fc.constantFrom(...Object.keys(REDIRECTS)).map((clientId): RawPair[] => [
  ['client_id', clientId],
  ['response_type', 'code'],
  ['scope', percentEncode('openid profile')],
  ['redirect_uri', percentEncode(REDIRECTS[clientId]!)],
  ['code_challenge', CHALLENGE],
  ['code_challenge_method', 'S256'],
  ['state', 'fuzz'],
]);

describe('authorization endpoint under hostile input', () => {
  it(
    'answers any raw query string safely',
    async () => {
      await fc.assert(
        fc.asyncProperty(rawQuery, cookieHeader([sessionCookie]), acceptHeader, async (query, cookie, accept) => {
          await sendSafely(t.gh.server, { method: 'GET', path: `/auth?${query}`, headers: { cookie, accept } }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );

  it(
    'answers a known client with random extra parameters safely, signed in or not',
    async () => {
      const value = oauthValue(wrongJwt(t.jwt), lookalikeUri(t.policy.registered));
      await fc.assert(
        fc.asyncProperty(extendPairs(workingRequest, value), cookieHeader([sessionCookie]), acceptHeader, async (pairs, cookie, accept) => {
          await sendSafely(t.gh.server, { method: 'GET', path: `/auth?${urlQuery(pairs)}`, headers: { cookie, accept } }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );

  it(
    'never redirects to a redirect_uri look-alike, whatever the response_mode',
    async () => {
      const attempt = fc.tuple(
        fc.constantFrom(...Object.keys(REDIRECTS)),
        lookalikeUri(t.policy.registered),
        fc.constantFrom(undefined, 'query', 'fragment', 'form_post', 'jwt', 'web_message', 'x'),
        fc.constantFrom(undefined, 'none', 'login', 'consent'),
      );
      await fc.assert(
        fc.asyncProperty(attempt, cookieHeader([sessionCookie]), async ([clientId, redirectUri, mode, prompt], cookie) => {
          const pairs: RawPair[] = [
            ['client_id', clientId],
            ['response_type', 'code'],
            ['scope', 'openid'],
            ['redirect_uri', percentEncode(redirectUri)],
            ['code_challenge', CHALLENGE],
            ['code_challenge_method', 'S256'],
            ['state', percentEncode('\r\nSet-Cookie: injected=1')],
          ];
          if (mode) pairs.push(['response_mode', mode]);
          if (prompt) pairs.push(['prompt', prompt]);
          await sendSafely(t.gh.server, { method: 'GET', path: `/auth?${urlQuery(pairs)}`, headers: { cookie } }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );

  it('refuses a URL longer than the HTTP layer accepts without a 5xx, and keeps serving', async () => {
    // Node refuses request heads over 16 kB itself (431) and closes the connection; the client
    // may see the reset before the 431. Either way nothing reaches the application.
    const long = `/auth?client_id=web&state=${'a'.repeat(100_000)}`;
    const outcome = await send(t.gh.server, { method: 'GET', path: long }).then(
      (answer) => answer.status,
      (error: unknown) => (error as Error).message,
    );
    expect(String(outcome)).toMatch(/^431$|ECONNRESET|EPIPE|socket hang up/);
    // Just under that limit, the application answers: over its own cap on what it stores.
    const after = await sendSafely(
      t.gh.server,
      { method: 'GET', path: `/auth?client_id=web&state=${'a'.repeat(12_000)}`, headers: { accept: 'application/json' } },
      t.policy,
    );
    expect(after.status).toBe(400);
    expect(JSON.parse(after.body)).toMatchObject({ error: 'invalid_request' });
  });
});

describe('unstorable claims raced against refreshes', () => {
  // Writes of one event-loop turn share a statement: a claims parameter the database cannot
  // store must fail only its own request, never the witness's refresh served at the same moment.
  // The email scope is asked for so that the bad text in an email claim's value is not simply
  // dropped as a claim outside the scopes (only bad claim names are, as unknown claims).
  it(
    'never fails a refresh served together with them',
    async () => {
      const signedIn = fc.array(unstorableClaims, { minLength: 1, maxLength: 8 });
      await fc.assert(
        fc.asyncProperty(signedIn, async (claimsList) => {
          const bad = claimsList.map((claims) => {
            const pairs: RawPair[] = [
              ['client_id', 'first-party'],
              ['response_type', 'code'],
              ['scope', 'openid%20email'],
              ['redirect_uri', percentEncode(REDIRECTS['first-party']!)],
              ['code_challenge', CHALLENGE],
              ['code_challenge_method', 'S256'],
              ['claims', percentEncode(claims)],
            ];
            return sendSafely(t.gh.server, { method: 'GET', path: `/auth?${urlQuery(pairs)}`, headers: { cookie: sessionCookie } }, t.policy);
          });
          await Promise.all([t.witness.expectIntact(), ...bad]);
        }),
        fuzzOptions(10),
      );
    },
    fuzzTimeout(10, 200),
  );
});

describe('pushed authorization requests under hostile input', () => {
  it(
    'answers any body and credentials safely; a pushed request that is accepted is safe to use',
    async () => {
      const value = oauthValue(wrongJwt(t.jwt), lookalikeUri(t.policy.registered));
      const body = fc.oneof(rawBody(), extendPairs(workingRequest, value).map(formBody));
      await fc.assert(
        fc.asyncProperty(body, authorizationHeader(t.clients, wrongJwt(t.jwt)), acceptHeader, async (raw, authorization, accept) => {
          const pushed = await sendSafely(t.gh.server, { method: 'POST', path: '/request', headers: { authorization, accept }, body: raw }, t.policy);
          if (pushed.status !== 201) return;
          const { request_uri: requestUri } = JSON.parse(pushed.body) as { request_uri: string };
          const clientId = new URLSearchParams(raw.body.toString('latin1')).get('client_id') ?? 'web';
          await sendSafely(
            t.gh.server,
            { method: 'GET', path: `/auth?client_id=${percentEncode(clientId)}&request_uri=${percentEncode(requestUri)}`, headers: { cookie: sessionCookie } },
            t.policy,
          );
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );
});

describe('after the fuzzing', () => {
  it('the session and the refresh token made before it still work', async () => {
    await t.witness.expectIntact();
  });
});
