import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import * as cheerio from 'cheerio';
import { ALICE, FIXED_PKCE, RP } from '../support/fixtures.js';
import { UserAgent, isPage } from '../support/user_agent.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  cookieHeader,
  formBody,
  fuzzOptions,
  fuzzTimeout,
  headerSafe,
  hostileText,
  percentEncode,
  rawBody,
  rawName,
  rawValue,
  shortText,
  type RawBody,
  type RawPair,
} from './hostile_input.js';
import { sendSafely } from './safe_response.js';

// The hosted login and consent steps (/interaction/:uid and its login, confirm and abort POSTs)
// under hostile input: made-up uids; real interactions posted with random forms, with and
// without their cookie and CSRF token; wrong content types, broken encodings, oversized bodies;
// forged X-Forwarded-For (the proxy is trusted here, so it reaches the sign-in throttle).
// Never a 5xx, a stack trace or a hang; and the session and refresh token made before the
// fuzzing still work.

const RUNS = 30;
let t: FuzzTarget;
let sessionCookie: string;

beforeAll(async () => {
  // Trusting the proxy lets X-Forwarded-For reach the throttle; a high per-IP limit keeps the
  // whole run from being refused at the door (lockouts are still met: per account).
  t = await startFuzzTarget({ env: { TRUST_PROXY: '1', LOGIN_MAX_FAILURES_PER_IP: '100000' } });
  sessionCookie = await t.browserSession();
});
afterAll(() => t?.close());

/** One step of a real interaction, as the browser holds it. */
interface Step {
  uid: string;
  /** the cookies the browser would send to the interaction's URLs */
  cookie: string;
  /** the hidden fields of the step's first form (the CSRF token) */
  hidden: RawPair[];
}

/** Starts a sign-in and returns the step it stops at (login, or consent when already signed in). */
async function startInteraction(signedIn: boolean): Promise<Step> {
  const ua = new UserAgent();
  const headers: Record<string, string> = {};
  if (signedIn) headers.cookie = sessionCookie;
  const params = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    scope: 'openid profile things:read',
    redirect_uri: `${RP}/callback`,
    ...FIXED_PKCE,
    prompt: 'consent',
    state: 's',
  });
  const first = await ua.request(`${t.gh.issuer}/auth?${params.toString()}`, { headers });
  const location = first.headers.get('location');
  if (!location) throw new Error(`no interaction started: ${first.status}`);
  const url = new URL(location, t.gh.issuer).href;
  const page = await ua.follow(url);
  if (!isPage(page)) throw new Error('the interaction did not show a page');
  const uid = new URL(url).pathname.split('/')[2]!;
  const $ = cheerio.load(page.body);
  // Every form of a step carries the same token: one form's fields, or it would be sent twice.
  const hidden = $('form')
    .first()
    .find('input[type="hidden"]')
    .toArray()
    .map((el) => [percentEncode($(el).attr('name') ?? ''), percentEncode($(el).attr('value') ?? '')] as RawPair);
  const interactionCookie = await ua.jar.getCookieString(`${t.gh.issuer}/interaction/${uid}/login`);
  return { uid, cookie: [interactionCookie, signedIn ? sessionCookie : ''].filter(Boolean).join('; '), hidden };
}

const loginValue = fc.oneof(
  fc.constantFrom(ALICE.username, ALICE.email, ALICE.username.toUpperCase(), ` ${ALICE.username} `),
  hostileText.map(percentEncode),
  rawValue,
);
const passwordValue = fc.oneof(fc.constant(percentEncode(ALICE.password)), hostileText.map(percentEncode), rawValue);

/** A login or consent form: its own fields (or not), with random values and extra fields. */
function stepForm(hidden: RawPair[]): fc.Arbitrary<RawBody> {
  const fields = fc.record({
    // Mostly with the page's CSRF token, so the form gets past it to the step itself.
    keepHidden: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    login: fc.option(loginValue, { nil: undefined }),
    password: fc.option(passwordValue, { nil: undefined }),
    extra: fc.array(
      fc.tuple(
        fc.oneof(
          rawName,
          fc.constantFrom('login[]', 'password[]', 'login[a]', 'csrf_token', 'csrf_token[]', 'code', 'code[]', 'response', 'response[]', 'remember'),
        ),
        fc.option(rawValue, { nil: undefined }),
      ),
      { maxLength: 4 },
    ),
  });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fields.map(({ keepHidden, login, password, extra }) =>
        formBody([
          ...(keepHidden ? hidden : []),
          ...(login === undefined ? [] : ([['login', login]] as RawPair[])),
          ...(password === undefined ? [] : ([['password', password]] as RawPair[])),
          ...extra,
        ]),
      ),
    },
    { weight: 1, arbitrary: rawBody() },
  );
}

const STEPS = ['login', 'mfa', 'mfa/enrol', 'passkey', 'passkey/options', 'confirm', 'abort'] as const;
const forwardedFor = fc.option(
  fc.oneof(fc.constantFrom('203.0.113.7', '::1', '2001:db8::1, 10.0.0.1', 'unknown', '999.1.1.1', ', ,', '[::1]:80'), shortText.map(headerSafe)),
  { nil: undefined },
);

describe('interaction routes under hostile input', () => {
  it(
    'answers made-up interaction uids safely, with any cookie',
    async () => {
      const uid = fc.oneof(rawValue, fc.constantFrom('', '.', '..', '%2e%2e', 'a'.repeat(3000), '%00', '%zz'));
      const method = fc.constantFrom('GET', 'POST');
      const step = fc.constantFrom('', '/login', '/mfa', '/mfa/enrol', '/passkey', '/passkey/options', '/confirm', '/abort', '/login/x', '/', '/%2e%2e/login');
      await fc.assert(
        fc.asyncProperty(uid, step, method, rawBody(), cookieHeader([sessionCookie]), acceptHeader, async (u, s, m, body, cookie, accept) => {
          await sendSafely(t.gh.server, { method: m, path: `/interaction/${u}${s}`, headers: { cookie, accept }, ...(m === 'POST' ? { body } : {}) }, t.policy);
        }),
        fuzzOptions(RUNS * 2),
      );
    },
    fuzzTimeout(RUNS * 2, 50),
  );

  it(
    'answers random forms to a real sign-in step safely, with and without its cookie',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.boolean(),
          fc.constantFrom(...STEPS),
          fc.constantFrom('own', 'own', 'own', 'own', 'none', 'junk'),
          forwardedFor,
          fc.gen(),
          async (signedIn, step, cookieMode, xff, g) => {
            const interaction = await startInteraction(signedIn);
            // The form is drawn once the step's own fields (its CSRF token) are known.
            const body = g(stepForm, interaction.hidden);
            const cookie = cookieMode === 'own' ? interaction.cookie : cookieMode === 'junk' ? '_interaction=junk; _interaction.sig=junk' : undefined;
            await sendSafely(
              t.gh.server,
              { method: 'POST', path: `/interaction/${interaction.uid}/${step}`, headers: { cookie, 'x-forwarded-for': xff, accept: 'text/html' }, body },
              t.policy,
            );
          },
        ),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 400),
  );

  it(
    'answers a real sign-in step sent several random forms in a row safely',
    async () => {
      // One interaction, many posts: retries after errors, a step finished then posted again.
      const interaction = await startInteraction(false);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...STEPS), stepForm(interaction.hidden), async (step, body) => {
          await sendSafely(
            t.gh.server,
            { method: 'POST', path: `/interaction/${interaction.uid}/${step}`, headers: { cookie: interaction.cookie, accept: 'text/html' }, body },
            t.policy,
          );
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 400),
  );
});

describe('after the fuzzing', () => {
  it('the session and the refresh token made before it still work', async () => {
    await t.witness.expectIntact();
  });
});
