import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE, API, RP } from '../support/fixtures.js';
import { authorize, oidc } from '../support/relying_party.js';
import type { Page } from '../support/user_agent.js';
import {
  CONSENT_FORM,
  DENY_FORM,
  LOGIN_FORM,
  callbackParams,
  expectPage,
  expectRedirect,
  pageKind,
  startAuthorization,
  visibleText,
  type StartOptions,
  type Started,
} from '../support/hosted_pages.js';

// The consent page over HTTP: what it says, what Allow and Deny do, what is remembered across
// sessions, and that first-party clients never see it.

let gh: RunningGatehouse;
let web: oidc.Configuration;
let firstParty: oidc.Configuration;

const user = (username: string) => ({ username, email: `${username}@example.test`, name: `User ${username}`, password: `${username} has a long password` });
const credentials = (username: string) => ({ login: username, password: user(username).password });

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  for (const name of ['dora', 'erin', 'finn', 'gwen']) await gh.createUser(user(name));
  web = await rpFor(gh, 'web');
  firstParty = await rpFor(gh, 'first-party');
});
afterAll(() => gh?.close());

/** A new browser signs in and stops at whatever comes after the login page. */
async function signInToConsent(
  login: { login: string; password: string },
  options: StartOptions = {},
): Promise<Started & { afterLogin: Page | { redirectedTo: string } }> {
  const started = await startAuthorization(web, options);
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  const afterLogin = await started.ua.submit(page, LOGIN_FORM, login, RP);
  return { ...started, afterLogin };
}

async function exchange(started: Started, callback: URL) {
  return oidc.authorizationCodeGrant(web, callback, {
    pkceCodeVerifier: started.codeVerifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });
}

describe('consent page', () => {
  it('names the client, says what each scope means in plain words, and names the API', async () => {
    const { afterLogin } = await signInToConsent(credentials('dora'), { scope: 'openid profile email things:read' });
    const page = expectPage(afterLogin);
    expect(pageKind(page)).toBe('consent');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toContain('no-store');
    const text = visibleText(page);
    expect(page.$('h1').text()).toContain('Web App');
    expect(text).toContain('See your name and username');
    expect(text).toContain('See your email address');
    expect(text).toContain('Things API');
    // Plain words, not the protocol's scope names.
    expect(text).not.toMatch(/\bprofile\b|\bopenid\b/);
    expect(page.$(CONSENT_FORM).attr('method')?.toLowerCase()).toBe('post');
    expect(page.$(`${CONSENT_FORM} button`).text()).toMatch(/Allow|Continue|Accept|Yes/);
    expect(page.$(DENY_FORM)).toHaveLength(1);
  });

  it('Allow sends the browser back with a code that gets the API token', async () => {
    const started = await signInToConsent(credentials('erin'), { scope: 'openid profile things:read' });
    const page = expectPage(started.afterLogin);
    expect(pageKind(page)).toBe('consent');
    const callback = expectRedirect(await started.ua.submit(page, CONSENT_FORM, {}, RP));
    expect(callback.origin + callback.pathname).toBe(`${RP}/callback`);
    expect(callbackParams(callback).get('state')).toBe(started.state);
    expect(callbackParams(callback).get('code')).toBeTruthy();
    const tokens = await exchange(started, callback);
    const access = decodeJwt(tokens.access_token);
    expect(access.aud).toBe(API);
    expect(String(access.scope).split(' ')).toContain('things:read');
  });

  it('Deny sends the browser back to the client with error=access_denied and the state', async () => {
    const started = await signInToConsent(credentials('dora'), { scope: 'openid email' });
    const page = expectPage(started.afterLogin);
    expect(pageKind(page)).toBe('consent');
    const callback = expectRedirect(await started.ua.submit(page, DENY_FORM, {}, RP));
    expect(callback.origin + callback.pathname).toBe(`${RP}/callback`);
    const params = callbackParams(callback);
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe(started.state);
    expect(params.get('code')).toBeNull();
  });

  it('is remembered in a new session, and asks again only for a new scope', async () => {
    const who = credentials('finn');
    const first = await authorize(web, { scope: 'openid profile things:read', credentials: who, consent: 'allow' });
    expect(first.seen).toEqual({ login: 1, consent: 1 });
    expect(callbackParams(first.callback).get('code')).toBeTruthy();

    // A new browser: a new session, so a new sign-in, but no consent for the same scopes.
    const again = await authorize(web, { scope: 'openid profile things:read', credentials: who });
    expect(again.seen).toEqual({ login: 1, consent: 0 });
    expect(callbackParams(again.callback).get('code')).toBeTruthy();

    // One more scope: consent again, listing only what is new.
    const more = await signInToConsent(who, { scope: 'openid profile email things:read' });
    const page = expectPage(more.afterLogin);
    expect(pageKind(page)).toBe('consent');
    const text = visibleText(page);
    expect(text).toContain('See your email address');
    expect(text).not.toContain('See your name and username');
    expect(text).not.toContain('Things API');
    const callback = expectRedirect(await more.ua.submit(page, CONSENT_FORM, {}, RP));
    expect(callbackParams(callback).get('code')).toBeTruthy();
    const { rows } = await gh.testDb.db.query<{ scope: string; resource_scopes: Record<string, string> }>(
      `SELECT c.scope, c.resource_scopes FROM consents c JOIN users u USING (sub) WHERE u.username = 'finn' AND c.client_id = 'web'`,
    );
    expect(rows[0]!.scope.split(' ')).toEqual(expect.arrayContaining(['email', 'openid', 'profile']));
    expect(rows[0]!.resource_scopes).toEqual({ [API]: 'things:read' });

    // Both consents are now remembered together.
    const last = await authorize(web, { scope: 'openid profile email things:read', credentials: who });
    expect(last.seen).toEqual({ login: 1, consent: 0 });
  });

  it('is asked again when the client sends prompt=consent, even if remembered', async () => {
    const who = credentials('gwen');
    await authorize(web, { scope: 'openid profile', credentials: who, consent: 'allow' });
    const forced = await authorize(web, { scope: 'openid profile', credentials: who, consent: 'allow', params: { prompt: 'consent' } });
    expect(forced.seen).toEqual({ login: 1, consent: 1 });
  });

  it('is never shown for a skip_consent client, not even with prompt=consent', async () => {
    const login = { login: ALICE.username, password: ALICE.password };
    const plain = await authorize(firstParty, { redirectUri: `${RP}/fp/callback`, scope: 'openid profile email things:read', credentials: login });
    expect(plain.seen).toEqual({ login: 1, consent: 0 });
    expect(callbackParams(plain.callback).get('code')).toBeTruthy();

    const forced = await authorize(firstParty, {
      redirectUri: `${RP}/fp/callback`,
      scope: 'openid profile email offline_access things:read',
      credentials: login,
      params: { prompt: 'consent' },
    });
    expect(forced.seen).toEqual({ login: 1, consent: 0 });
    const tokens = await oidc.authorizationCodeGrant(firstParty, forced.callback, {
      pkceCodeVerifier: forced.codeVerifier,
      expectedState: forced.state,
      expectedNonce: forced.nonce,
      idTokenExpected: true,
    });
    // Everything asked for was granted without a page: the API scope and offline access.
    expect(String(decodeJwt(tokens.access_token).scope).split(' ')).toContain('things:read');
    expect(tokens.refresh_token).toBeTruthy();
  });
});
