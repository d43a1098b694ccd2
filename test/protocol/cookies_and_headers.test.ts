import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cookie } from 'tough-cookie';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers } from '../support/factories.js';
import { ALICE, RP, webAuthorizationUrl } from '../support/fixtures.js';
import { UserAgent, isPage, type Page, type Route } from '../support/user_agent.js';
import { CONSENT_FORM, LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind } from '../support/hosted_pages.js';

// The cookies and security headers of a whole browser session (authorize → login → consent →
// back to the client → sign out), once with a plain http issuer (development) and once with an
// https issuer behind a TLS-terminating proxy (TRUST_PROXY and X-Forwarded-Proto: https), as in
// production. Every cookie Gatehouse sets is checked, whichever part of it set it.

const PUBLIC_HTTPS = 'https://id.gatehouse.test';
// oidc-provider's cookies, each signed by a companion `.sig` cookie (keygrip).
const STATEFUL_COOKIES = ['_session', '_interaction', '_interaction_resume'];
const KNOWN_COOKIES = new Set(STATEFUL_COOKIES.flatMap((name) => [name, `${name}.sig`]));

interface Seen {
  url: string;
  status: number;
  headers: Headers;
  setCookies: string[];
}

/** A browser that remembers every response it got (headers and Set-Cookie lines). */
class RecordingAgent extends UserAgent {
  readonly seen: Seen[] = [];
  override async request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    const response = await super.request(url, init);
    this.seen.push({ url, status: response.status, headers: response.headers, setCookies: response.headers.getSetCookie() });
    return response;
  }
}

/** The test server behind a pretend TLS-terminating proxy at PUBLIC_HTTPS. */
const viaTlsProxy =
  (local: string): Route =>
  (url) =>
    url.origin === PUBLIC_HTTPS
      ? { url: `${local}${url.pathname}${url.search}`, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': url.host } }
      : undefined;

/** Sign in with consent and sign out again; returns the agent, which saw every response. */
async function session(issuer: string, route?: Route): Promise<{ ua: RecordingAgent; pages: Page[] }> {
  const ua = new RecordingAgent(route);
  const pages: Page[] = [];
  const login = expectPage(await ua.follow(webAuthorizationUrl(issuer), {}, RP));
  expect(pageKind(login)).toBe('login');
  const consent = expectPage(await ua.submit(login, LOGIN_FORM, { login: ALICE.username, password: ALICE.password }, RP));
  expect(pageKind(consent)).toBe('consent');
  expect(callbackParams(expectRedirect(await ua.submit(consent, CONSENT_FORM, {}, RP))).get('code')).toBeTruthy();
  const confirm = expectPage(await ua.follow(`${issuer}/session/end`, {}, RP));
  const signedOut = await ua.submit(confirm, 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' });
  // A provider error page and one of ours (an interaction that does not exist).
  const providerError = expectPage(await ua.follow(`${issuer}/auth?client_id=nobody&response_type=code&scope=openid`, {}, RP));
  const ourError = expectPage(await ua.follow(`${issuer}/interaction/no-such-interaction`, {}, RP));
  pages.push(login, consent, confirm, providerError, ourError);
  if (isPage(signedOut)) pages.push(signedOut);
  expect(providerError.status).toBe(400);
  expect(ourError.status).toBeGreaterThanOrEqual(400);
  return { ua, pages };
}

function parsedCookies(ua: RecordingAgent): Cookie[] {
  return ua.seen.flatMap((s) => s.setCookies.map((line) => Cookie.parse(line)!));
}

function expectCookies(ua: RecordingAgent, https: boolean): void {
  const cookies = parsedCookies(ua);
  const names = new Set(cookies.map((c) => c.key));
  // The whole session used each kind of cookie.
  for (const name of KNOWN_COOKIES) expect(names).toContain(name);
  for (const cookie of cookies) {
    const what = `${cookie.key} (${cookie.toString()})`;
    expect(KNOWN_COOKIES.has(cookie.key), `unexpected cookie ${what}`).toBe(true);
    expect(cookie.httpOnly, what).toBe(true);
    expect(cookie.secure, what).toBe(https);
    // SameSite=None only where the library needs it (the session cookie, for prompt=none in an
    // iframe and POST to /auth and /session/end), and only with Secure.
    expect(cookie.sameSite, what).toBe(https && cookie.key.startsWith('_session') ? 'none' : 'lax');
  }
  // Every cookie that carries a value is signed: its `.sig` is set in the same response.
  for (const seen of ua.seen) {
    const set = seen.setCookies.map((line) => Cookie.parse(line)!);
    for (const cookie of set.filter((c) => STATEFUL_COOKIES.includes(c.key) && c.value)) {
      expect(
        set.some((c) => c.key === `${cookie.key}.sig` && c.value),
        `${cookie.key} set without its signature at ${seen.url}`,
      ).toBe(true);
    }
  }
}

function expectHeaders(ua: RecordingAgent, pages: Page[], https: boolean): void {
  expect(ua.seen.length).toBeGreaterThan(8);
  for (const { url, headers } of ua.seen) {
    expect(headers.get('x-powered-by'), url).toBeNull();
    expect(headers.get('referrer-policy'), url).toBe('no-referrer');
    const hsts = headers.get('strict-transport-security');
    if (https) expect(hsts, url).toMatch(/max-age=\d{7,}/);
    else expect(hsts, url).toBeNull();
  }
  for (const page of pages) {
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp, page.url).toMatch(/(^|;)\s*frame-ancestors 'none'/);
    expect(page.headers.get('x-frame-options'), page.url).toBe('DENY');
  }
}

describe('over a plain http issuer', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    ({ gh } = await startGatehouseWithUsers([ALICE]));
  });
  afterAll(() => gh?.close());

  it('cookies are HttpOnly, SameSite=Lax, signed and not Secure; headers have no HSTS', async () => {
    const { ua, pages } = await session(gh.issuer);
    expectCookies(ua, false);
    expectHeaders(ua, pages, false);
  });
});

describe('over an https issuer behind a TLS-terminating proxy', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    ({ gh } = await startGatehouseWithUsers([ALICE], { env: { ISSUER: PUBLIC_HTTPS, TRUST_PROXY: '1' } }));
  });
  afterAll(() => gh?.close());

  it('cookies are Secure and HttpOnly, SameSite=None only for the session, signed; HSTS is sent', async () => {
    const { ua, pages } = await session(PUBLIC_HTTPS, viaTlsProxy(gh.issuer));
    expectCookies(ua, true);
    expectHeaders(ua, pages, true);
    expect(ua.seen.every((s) => s.url.startsWith(PUBLIC_HTTPS))).toBe(true);
  });
});
