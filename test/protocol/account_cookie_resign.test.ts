import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKeys } from '../../src/keys/key_store.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE } from '../support/fixtures.js';
import { UserAgent, type Route } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, pageKind } from '../support/hosted_pages.js';

// Issue #11, point 5: a cookie key rotation does not damage sessions. After `keys rotate`, the
// session cookie a browser holds is signed with the retired key; reading it on /account made the
// cookies library re-sign `_session.sig` with its default options: no SameSite and no Expires.
// The browser then dropped a remembered session when it closed, and (over https) sent no session
// cookie to a cross-site iframe, so silent sign-in failed. The re-signed cookie must carry what
// oidc-provider itself sets: Path=/, HttpOnly, SameSite, Secure over https, and a remembered
// session's Expires.

const PUBLIC_HTTPS = 'https://id.gatehouse.test';

/** The test server behind a pretend TLS-terminating proxy at PUBLIC_HTTPS. */
const viaTlsProxy =
  (local: string): Route =>
  (url) =>
    url.origin === PUBLIC_HTTPS
      ? { url: `${local}${url.pathname}${url.search}`, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': url.host } }
      : undefined;

/** Remembers every Set-Cookie line it was sent. */
class RecordingAgent extends UserAgent {
  readonly setCookies: string[] = [];
  override async request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    const response = await super.request(url, init);
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

interface Attributes {
  name: string;
  attrs: Record<string, string | true>;
}

function parseSetCookie(line: string): Attributes {
  const [pair, ...rest] = line.split(';').map((p) => p.trim());
  const attrs: Record<string, string | true> = {};
  for (const part of rest) {
    const at = part.indexOf('=');
    attrs[(at < 0 ? part : part.slice(0, at)).toLowerCase()] = at < 0 ? true : part.slice(at + 1);
  }
  return { name: pair!.slice(0, pair!.indexOf('=')), attrs };
}

const sessionCookies = (lines: string[]) => lines.map(parseSetCookie).filter((c) => c.name === '_session' || c.name === '_session.sig');

describe.each([
  { over: 'a plain http issuer', https: false },
  { over: 'an https issuer behind a TLS-terminating proxy', https: true },
])('/account after a cookie key rotation, over $over', ({ https }) => {
  let gh: RunningGatehouse;
  let issuer: string;
  beforeAll(async () => {
    gh = await startGatehouse(https ? { env: { ISSUER: PUBLIC_HTTPS, TRUST_PROXY: '1' } } : {});
    issuer = https ? PUBLIC_HTTPS : gh.issuer;
    await gh.createUser(ALICE);
  });
  afterAll(() => gh?.close());

  async function signInToAccount(remember: boolean): Promise<RecordingAgent> {
    const ua = new RecordingAgent(https ? viaTlsProxy(gh.issuer) : undefined);
    const login = expectPage(await ua.follow(`${issuer}/account`));
    expect(pageKind(login)).toBe('login');
    const account = expectPage(
      await ua.submit(login, LOGIN_FORM, { login: ALICE.username, password: ALICE.password, ...(remember ? { remember: 'yes' } : {}) }),
    );
    expect(account.$('h1').text()).toBe('Your account');
    return ua;
  }

  /** What the provider last set for the session cookie at sign-in. */
  const providerSet = (ua: RecordingAgent) =>
    sessionCookies(ua.setCookies)
      .filter((c) => c.name === '_session')
      .at(-1)!;

  async function rotateCookieKey(): Promise<void> {
    await rotateKeys(gh.testDb.db, 0);
    expect(await gh.gatehouse.host.refreshKeys()).toBe(true);
  }

  for (const remember of [true, false]) {
    it(`${remember ? 'a remembered' : 'a browser-session'} sign-in: the re-signed cookie keeps the provider's attributes`, async () => {
      const ua = await signInToAccount(remember);
      const atSignIn = providerSet(ua);
      expect(atSignIn.attrs.samesite).toBe(https ? 'none' : 'lax');
      expect(Boolean(atSignIn.attrs.expires)).toBe(remember);

      // Without a rotation /account writes nothing back.
      const before = await ua.request(`${issuer}/account`);
      expect(before.status).toBe(200);
      expect(sessionCookies(before.headers.getSetCookie())).toEqual([]);

      await rotateCookieKey();
      const after = await ua.request(`${issuer}/account`);
      expect(after.status).toBe(200);
      const resigned = sessionCookies(after.headers.getSetCookie());
      expect(resigned.map((c) => c.name).sort()).toEqual(['_session', '_session.sig']);
      for (const cookie of resigned) {
        expect(cookie.attrs).toEqual({
          path: '/',
          httponly: true,
          samesite: https ? 'none' : 'lax',
          ...(https ? { secure: true } : {}),
          // the session's own expiry, exactly as the provider wrote it
          ...(remember ? { expires: atSignIn.attrs.expires } : {}),
        });
      }

      // The browser keeps it (a remembered one past closing) and is still signed in with it.
      const jarred = (await ua.jar.getCookies(`${issuer}/`)).filter((c) => c.key.startsWith('_session'));
      expect(jarred).toHaveLength(2);
      for (const c of jarred) expect(c.expires === 'Infinity').toBe(!remember);
      const again = await ua.request(`${issuer}/account`);
      expect(again.status).toBe(200);
      expect(sessionCookies(again.headers.getSetCookie())).toEqual([]);
    });
  }
});
