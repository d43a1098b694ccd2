import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import * as cheerio from 'cheerio';
import { ALICE, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { startFuzzTarget, type FuzzTarget } from './fuzz_target.js';
import {
  acceptHeader,
  cookieHeader,
  extendPairs,
  formBody,
  fuzzOptions,
  fuzzTimeout,
  urlQuery,
  lookalikeUri,
  oauthValue,
  percentEncode,
  rawBody,
  rawQuery,
  rawValue,
  wrongJwt,
  type RawPair,
} from './hostile_input.js';
import { sendSafely } from './safe_response.js';

// The end-session endpoint (GET /session/end) and its confirmation POST under hostile input:
// random parameters, real and forged id_token_hints, post_logout_redirect_uri look-alikes, forms
// with and without the session cookie and the page's xsrf token. Never a 5xx, a stack trace, a
// hang, or a redirect (or auto-submitting form) to an address no client registered; and the
// witness's session, which the fuzzing never holds, is still signed in afterwards.

const RUNS = 40;
let t: FuzzTarget;

/** A browser session of the fuzzing's own (not the witness's); signed in again once signed out. */
interface FuzzSession {
  cookie: string;
  idToken: string;
}
let session: FuzzSession | undefined;
let staleIdToken: string;

async function fuzzSession(): Promise<FuzzSession> {
  if (session) return session;
  const web = await discover(t.gh.issuer, 'web', SECRETS.web);
  const { ua, tokens } = await signIn(web, { scope: 'openid', credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
  session = { cookie: await ua.jar.getCookieString(t.gh.issuer), idToken: tokens.id_token! };
  return session;
}

beforeAll(async () => {
  t = await startFuzzTarget();
  staleIdToken = (await fuzzSession()).idToken;
});
afterAll(() => t?.close());

/** The confirmation form's fields (the xsrf token) as the page served them, if there is a page. */
function formFields(html: string): RawPair[] {
  const $ = cheerio.load(html);
  return $('form input')
    .toArray()
    .map((el) => [percentEncode($(el).attr('name') ?? ''), percentEncode($(el).attr('value') ?? '')] as RawPair);
}

describe('end-session endpoint under hostile input', () => {
  it(
    'answers any raw query string safely, signed in or not',
    async () => {
      const { cookie } = await fuzzSession();
      await fc.assert(
        fc.asyncProperty(rawQuery, cookieHeader([cookie]), acceptHeader, async (query, c, accept) => {
          await sendSafely(t.gh.server, { method: 'GET', path: `/session/end?${query}`, headers: { cookie: c, accept } }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );

  it(
    'never sends the browser to a post_logout_redirect_uri look-alike, with real or forged id_token_hints',
    async () => {
      const hint = fc.oneof(fc.constant(staleIdToken), wrongJwt(t.jwt), rawValue);
      const base = fc
        .tuple(hint, lookalikeUri(t.policy.registered), fc.option(fc.constantFrom('web', 'spa', 'service', 'no-such-client'), { nil: undefined }))
        .map(([h, uri, clientId]): RawPair[] => [
          ['id_token_hint', h],
          ['post_logout_redirect_uri', percentEncode(uri)],
          ['state', percentEncode('\r\nSet-Cookie: injected=1')],
          ...(clientId ? ([['client_id', clientId]] as RawPair[]) : []),
        ]);
      const value = oauthValue(wrongJwt(t.jwt), lookalikeUri(t.policy.registered));
      const { cookie } = await fuzzSession();
      await fc.assert(
        fc.asyncProperty(extendPairs(base, value), cookieHeader([cookie]), async (pairs, c) => {
          await sendSafely(t.gh.server, { method: 'GET', path: `/session/end?${urlQuery(pairs)}`, headers: { cookie: c } }, t.policy);
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 50),
  );

  it(
    'answers any confirmation POST safely, with the page xsrf token or without',
    async () => {
      const extra = fc.array(
        fc.tuple(fc.constantFrom('logout', 'xsrf', 'state', 'post_logout_redirect_uri', 'client_id'), fc.option(rawValue, { nil: undefined })),
        { maxLength: 4 },
      );
      const logout = fc.constantFrom<RawPair[]>(
        [['logout', 'yes']],
        [['logout', 'no']],
        [],
        [
          ['logout', 'yes'],
          ['logout', 'yes'],
        ],
        [['logout[]', 'yes']],
      );
      const how = fc.constantFrom('page-fields', 'page-fields', 'random-body', 'no-cookie');
      await fc.assert(
        fc.asyncProperty(how, extra, logout, rawBody(), acceptHeader, async (mode, more, yes, body, accept) => {
          const current = await fuzzSession();
          // The confirmation page as this session sees it, for its form's fields.
          const page = await sendSafely(
            t.gh.server,
            { method: 'GET', path: `/session/end?id_token_hint=${current.idToken}`, headers: { cookie: current.cookie, accept: 'text/html' } },
            t.policy,
          );
          const fields = formFields(page.body);
          const answer = await sendSafely(
            t.gh.server,
            {
              method: 'POST',
              path: '/session/end/confirm',
              headers: { cookie: mode === 'no-cookie' ? undefined : current.cookie, accept },
              body: mode === 'random-body' ? body : formBody([...fields, ...yes, ...more]),
            },
            t.policy,
          );
          // Signed out (a redirect onwards): the next run signs in again.
          if (answer.status === 303 || answer.status === 302) session = undefined;
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 200),
  );

  it(
    'answers a POST to the end-session endpoint itself safely',
    async () => {
      await fc.assert(
        fc.asyncProperty(rawBody(), cookieHeader([]), async (body, cookie) => {
          await sendSafely(t.gh.server, { method: 'POST', path: '/session/end', headers: { cookie }, body }, t.policy);
        }),
        fuzzOptions(Math.ceil(RUNS / 2)),
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
