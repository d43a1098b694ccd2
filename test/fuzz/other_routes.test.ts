import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import { acceptHeader, cookieHeader, fuzzOptions, fuzzTimeout, rawBody, rawQuery, rawValue } from './hostile_input.js';
import { sendSafely, type HostileRequest } from './safe_response.js';

// Every other route under hostile input: discovery, JWKS, health, metrics, static files, the
// home page, the account pages (GET and their form POSTs, signed in or not) and paths nothing
// serves, with any method, query, body and cookie. Never a 5xx, a stack trace, a hang or a
// redirect to an unregistered address; and the session and refresh token made before the
// fuzzing still work.

const RUNS = 60;
let t: FuzzTarget;
let sessionCookie: string;

beforeAll(async () => {
  t = await startFuzzTarget();
  sessionCookie = await t.browserSession();
});
afterAll(() => t?.close());

const PATHS = [
  '/',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/jwks',
  '/healthz',
  '/readyz',
  '/metrics',
  '/static/gatehouse.css',
  '/static/',
  '/static/..%2f..%2fpackage.json',
  '/account',
  '/account/callback',
  '/account/signed-out',
  '/account/sessions/end',
  '/account/sign-out-everywhere',
  '/account/apps/revoke',
  '/account/password',
  '/account/passkeys',
  '/account/passkeys/options',
  '/account/passkeys/rename',
  '/account/passkeys/remove',
  '/static/vendor/simplewebauthn-browser.js',
  '/static/passkeys.js',
  '/session/end/success',
  '/auth/',
  // The device authorization grant (RFC 8628): its endpoint, the code page, a resume path.
  '/device',
  '/device/auth',
  '/device/some-interaction-uid',
  '/favicon.ico',
  '//evil.example/',
  '/%2F%2Fevil.example',
  '/%zz',
  '/%00',
];

const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PATHS), rawValue).map(([p, junk]) => `${p}${p.endsWith('/') ? '' : '/'}${junk}`) },
);
const method = fc.constantFrom<HostileRequest['method']>('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS');

describe('other routes under hostile input', () => {
  it(
    'answer any method, path, query, body and cookie safely',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          method,
          path,
          fc.option(rawQuery, { nil: undefined }),
          rawBody(),
          cookieHeader([sessionCookie]),
          acceptHeader,
          async (m, p, query, body, cookie, accept) => {
            await sendSafely(
              t.gh.server,
              { method: m, path: query === undefined ? p : `${p}?${query}`, headers: { cookie, accept }, ...(m === 'GET' ? {} : { body }) },
              t.policy,
            );
          },
        ),
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
