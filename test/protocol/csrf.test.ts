import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { oidc, signIn } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import {
  CONSENT_FORM,
  DENY_FORM,
  LOGIN_FORM,
  callbackParams,
  expectNoStackTrace,
  expectPage,
  expectRedirect,
  pageKind,
  startAuthorization,
  visibleText,
} from '../support/hosted_pages.js';
import { createCsrf } from '../../src/http/csrf.js';

// CSRF protection of the hosted forms: every login, consent and deny/cancel form carries a
// `csrf_token` bound to its interaction; a POST without it, or with someone else's, is a 403
// "form expired" page and changes nothing. oidc-provider's own end-session form is protected
// by its `xsrf` field, checked against the session.

let gh: RunningGatehouse;
let web: oidc.Configuration;
const alice = credentialsOf(ALICE);

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  web = await rpFor(gh, 'web');
});
afterAll(() => gh?.close());

function tokenOf(page: Page, form: string): string {
  const input = page.$(`${form} input[name="csrf_token"]`);
  expect(input).toHaveLength(1);
  expect(input.attr('type')).toBe('hidden');
  const value = input.attr('value') ?? '';
  expect(value).not.toBe('');
  return value;
}

function expectFormExpired(landing: Awaited<ReturnType<UserAgent['follow']>>): void {
  const page = expectPage(landing);
  expect(page.status).toBe(403);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.$('h1').text()).toMatch(/expired/i);
  expect(visibleText(page)).toContain('This form has expired. Go back and try again.');
  expectNoStackTrace(page);
}

async function count(sql: string): Promise<number> {
  const { rows } = await gh.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`);
  return rows[0]!.n;
}

describe('CSRF tokens on the hosted forms', () => {
  it('every form of the login and consent pages carries a hidden csrf_token', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    expect(pageKind(login)).toBe('login');
    tokenOf(login, LOGIN_FORM);
    tokenOf(login, DENY_FORM);
    const consent = expectPage(await ua.submit(login, LOGIN_FORM, alice, RP));
    expect(pageKind(consent)).toBe('consent');
    tokenOf(consent, CONSENT_FORM);
    tokenOf(consent, DENY_FORM);
  });

  it('a login POST with a missing, foreign or altered token is refused with 403, signs nobody in and counts no failure', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    const own = tokenOf(login, LOGIN_FORM);
    // A token the attacker got for an interaction of their own.
    const foreign = tokenOf(expectPage((await startAuthorization(web)).landing), LOGIN_FORM);
    const altered = `${own.slice(0, -2)}${own.endsWith('AA') ? 'BB' : 'AA'}`;
    const auditBefore = await count('audit_events');

    for (const csrf_token of ['', foreign, altered, 'not-a-token']) {
      expectFormExpired(await ua.submit(login, LOGIN_FORM, { ...alice, csrf_token }, RP));
    }
    // Nothing happened: no sign-in or failure recorded, no failure counted towards a lockout.
    expect(await count('audit_events')).toBe(auditBefore);
    // (Rows `requests:<ip>` are the request rate limit: every form post counts there.)
    expect(await count("login_limits WHERE points > 0 AND key NOT LIKE 'requests:%'")).toBe(0);

    // The page itself still works.
    const consent = expectPage(await ua.submit(login, LOGIN_FORM, alice, RP));
    expect(pageKind(consent)).toBe('consent');
  });

  it('Allow and Deny without the token are refused; nothing is granted, and the interaction goes on', async () => {
    const { ua, landing } = await startAuthorization(web, { scope: 'openid profile' });
    const consent = expectPage(await ua.submit(expectPage(landing), LOGIN_FORM, alice, RP));
    expect(pageKind(consent)).toBe('consent');
    const grantsBefore = await count(`oidc_models WHERE model = 'Grant'`);

    expectFormExpired(await ua.submit(consent, CONSENT_FORM, { csrf_token: '' }, RP));
    expectFormExpired(await ua.submit(consent, DENY_FORM, { csrf_token: 'x' }, RP));
    expect(await count('consents')).toBe(0);
    expect(await count(`oidc_models WHERE model = 'Grant'`)).toBe(grantsBefore);

    const back = callbackParams(expectRedirect(await ua.submit(consent, CONSENT_FORM, {}, RP)));
    expect(back.get('code')).toBeTruthy();
    expect(await count('consents')).toBe(1);
  });

  it('a POST to a finished sign-in says the sign-in expired, token or not', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    await ua.submit(login, LOGIN_FORM, alice, RP);
    const again = expectPage(await ua.submit(login, LOGIN_FORM, { ...alice, csrf_token: '' }, RP));
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(visibleText(again)).toMatch(/sign in again/i);
  });

  it('a form rendered by one instance is accepted by another on the same database', async () => {
    const second = await startGatehouse({ testDb: gh.testDb });
    try {
      const { ua, landing } = await startAuthorization(web);
      const login = expectPage(landing);
      // The same page, as if the load balancer had sent the POST to the other instance.
      const onSecond = { ...login, $: login.$, url: login.url.replace(gh.issuer, second.issuer) };
      onSecond.$(LOGIN_FORM).attr('action', new URL(login.$(LOGIN_FORM).attr('action')!, second.issuer).href);
      const next = await ua.submit(onSecond, LOGIN_FORM, alice, RP);
      expect(pageKind(expectPage(next))).toBe('consent');
    } finally {
      await second.close();
    }
  });
});

describe('the end-session confirmation form', () => {
  async function confirmationPage(ua: UserAgent): Promise<Page> {
    const page = expectPage(await ua.follow(oidc.buildEndSessionUrl(web).href, {}, RP));
    expect(page.$('form input[name="xsrf"]')).toHaveLength(1);
    return page;
  }

  async function stillSignedIn(ua: UserAgent): Promise<boolean> {
    const { landing } = await startAuthorization(web, { ua, params: { prompt: 'none' } });
    return callbackParams(expectRedirect(landing)).has('code');
  }

  it('with a missing or wrong xsrf is refused with a 4xx page, and the user stays signed in', async () => {
    const { ua } = await signIn(web, { credentials: alice, consent: 'allow' });
    const page = await confirmationPage(ua);
    for (const xsrf of ['', 'wrong-value']) {
      const refused = expectPage(await ua.submit(page, 'form[method="post"]', { xsrf }, RP, { name: 'logout', value: 'yes' }));
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
      expectNoStackTrace(refused);
    }
    expect(await stillSignedIn(ua)).toBe(true);

    // With the page's own value it signs out.
    const done = expectPage(await ua.submit(await confirmationPage(ua), 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' }));
    expect(done.status).toBe(200);
    expect(await stillSignedIn(ua)).toBe(false);
  });
});

describe('createCsrf', () => {
  const at = (seconds: number) => () => seconds * 1000;

  it('accepts its own token for the same purpose and binding only', () => {
    const csrf = createCsrf({ cookieKeys: () => ['key-one'] });
    const token = csrf.issue('interaction', 'uid-1');
    expect(csrf.verify('interaction', 'uid-1', token)).toBe(true);
    expect(csrf.verify('interaction', 'uid-2', token)).toBe(false);
    expect(csrf.verify('account', 'uid-1', token)).toBe(false);
    for (const junk of [undefined, '', 42, ['x'], token.toUpperCase(), `${token}x`]) expect(csrf.verify('interaction', 'uid-1', junk)).toBe(false);
  });

  it('expires tokens after max age, and refuses ones from the future beyond clock skew', () => {
    const issued = createCsrf({ cookieKeys: () => ['k'], now: at(1_000_000) }).issue('p', 'b');
    expect(createCsrf({ cookieKeys: () => ['k'], now: at(1_000_000 + 3600) }).verify('p', 'b', issued)).toBe(true);
    expect(createCsrf({ cookieKeys: () => ['k'], now: at(1_000_000 + 3601) }).verify('p', 'b', issued)).toBe(false);
    expect(createCsrf({ cookieKeys: () => ['k'], now: at(1_000_000 - 30) }).verify('p', 'b', issued)).toBe(true);
    expect(createCsrf({ cookieKeys: () => ['k'], now: at(1_000_000 - 3600) }).verify('p', 'b', issued)).toBe(false);
  });

  it('keeps accepting tokens of a key that is still live after a rotation, not after it is dropped', () => {
    let keys = ['old'];
    const csrf = createCsrf({ cookieKeys: () => keys });
    const token = csrf.issue('p', 'b');
    keys = ['new', 'old'];
    expect(csrf.verify('p', 'b', token)).toBe(true);
    expect(csrf.issue('p', 'b')).not.toBe(token);
    keys = ['new'];
    expect(csrf.verify('p', 'b', token)).toBe(false);
  });
});
