import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import {
  LOGIN_FORM,
  callbackParams,
  expectNoStackTrace,
  expectPage,
  expectRedirect,
  pageKind,
  startAuthorization,
  visibleText,
} from '../support/hosted_pages.js';
import { SCOPE_DESCRIPTIONS } from '../../src/pages/scope_descriptions.js';
import { COMMON_PASSWORD } from '../../src/accounts/password_policy.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { gatehouseConfigSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';

// /account, the signed-in user's own page: reached through the ordinary sign-in, it lists the
// user's sessions and the applications they allowed, and lets them sign a session out, take an
// application's access back, change their password and sign out everywhere. Every form carries
// a CSRF token; a POST without a valid one changes nothing.

const BCL_SECRET = 'account-bcl-secret-0123456789abcdef0123';
const BCL_CALLBACK = `${RP}/bcl/callback`;

interface Delivery {
  logoutToken: string | null;
}

let receiver: http.Server;
const deliveries: Delivery[] = [];
let gh: RunningGatehouse;
let web: oidc.Configuration;
let bcl: oidc.Configuration;
let accountUrl: string;
let config: GatehouseConfig;

const user = (username: string) => ({
  username,
  email: `${username}@example.test`,
  name: `${username[0]!.toUpperCase()}${username.slice(1)} Tester`,
  password: `${username} walks along the quiet harbour`,
});
const BOB = user('bob');
const CAROL = user('carol');
const DAVE = user('dave');
const ERIN = user('erin');
const FRANK = user('frank');
const GRACE = user('grace');
const HEIDI = user('heidi');
const login = (u: { username: string; password: string }) => ({ login: u.username, password: u.password });

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      deliveries.push({ logoutToken: new URLSearchParams(body).get('logout_token') });
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel-logout`;

  const base = testConfig();
  config = testConfig({
    clients: [
      ...base.clients,
      {
        ...base.clients.find((c) => c.client_id === 'web')!,
        client_id: 'bcl',
        client_secret: BCL_SECRET,
        client_name: 'Back-channel App',
        redirect_uris: [BCL_CALLBACK],
        post_logout_redirect_uris: [],
        backchannel_logout_uri: receiverUrl,
      },
    ],
  });
  gh = await startGatehouse({ config });
  for (const u of [ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI]) await gh.createUser(u);
  web = await discover(gh.issuer, 'web', SECRETS.web);
  bcl = await discover(gh.issuer, 'bcl', BCL_SECRET);
  accountUrl = `${gh.issuer}/account`;
});
afterAll(async () => {
  await gh?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});
beforeEach(() => {
  deliveries.length = 0;
});

/** Opens /account, signing in with `credentials` if the login page shows. */
async function openAccount(ua: UserAgent, credentials?: { login: string; password: string }): Promise<Page> {
  let page = expectPage(await ua.follow(accountUrl));
  if (pageKind(page) === 'login') {
    if (!credentials) expect.fail(`expected the account page without signing in, got the login page`);
    page = expectPage(await ua.submit(page, LOGIN_FORM, credentials));
  }
  expect(page.status, visibleText(page).slice(0, 300)).toBe(200);
  expect(page.url.replace(/\?.*$/, '')).toBe(accountUrl);
  expect(page.$('h1').text()).toBe('Your account');
  return page;
}

const sessionsOn = (page: Page) =>
  page
    .$('#sessions li.entry')
    .toArray()
    .map((el) => ({
      id: page.$(el).attr('data-session')!,
      current: page.$(el).find('.badge').text() === 'this browser',
      text: page.$(el).text().replace(/\s+/g, ' '),
    }));

const appsOn = (page: Page) =>
  page
    .$('#apps li.entry')
    .toArray()
    .map((el) => ({ clientId: page.$(el).attr('data-client')!, text: page.$(el).text().replace(/\s+/g, ' ') }));

/** Submits one form of the account page; `match` picks it by its action (and hidden value). */
async function post(ua: UserAgent, page: Page, selector: string, fields: Record<string, string> = {}): Promise<Page> {
  return expectPage(await ua.submit(page, selector, fields));
}

async function promptNone(ua: UserAgent, config: oidc.Configuration = web, redirectUri?: string): Promise<string | null> {
  const { landing } = await startAuthorization(config, { ua, params: { prompt: 'none' }, ...(redirectUri ? { redirectUri } : {}) });
  const params = callbackParams(expectRedirect(landing));
  return params.get('error') ?? (params.get('code') ? 'code' : null);
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await gh.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values);
  return rows[0]!.n;
}

async function subOf(username: string): Promise<string> {
  const { rows } = await gh.testDb.db.query<{ sub: string }>('SELECT sub::text FROM users WHERE username = $1', [username]);
  return rows[0]!.sub;
}

async function auditEvents(username: string, event: string) {
  const { rows } = await gh.testDb.db.query<{ details: Record<string, unknown> }>(
    'SELECT details FROM audit_events WHERE account_id = $1 AND event = $2 ORDER BY id',
    [await subOf(username), event],
  );
  return rows.map((r) => r.details);
}

const endFormOf = (id: string) => `form[action="/account/sessions/end"]:has(input[name="session"][value="${id}"])`;
const revokeFormOf = (clientId: string) => `form[action="/account/apps/revoke"]:has(input[name="client_id"][value="${clientId}"])`;
const PASSWORD_FORM = 'form[action="/account/password"]';
const EVERYWHERE_FORM = 'form[action="/account/sign-out-everywhere"]';

describe('signing in to /account', () => {
  it('sends a browser without a session through the sign-in page and back to /account, leaving no code behind', async () => {
    const ua = new UserAgent();
    const first = await ua.request(accountUrl);
    expect(first.status).toBe(303);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const authorize = new URL(first.headers.get('location')!, accountUrl);
    expect(authorize.pathname).toBe('/auth');
    expect(authorize.searchParams.get('client_id')).toBe('gatehouse-account');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${gh.issuer}/account/callback`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('gatehouse_account_signin='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Path=\/account/);

    const loginPage = expectPage(await ua.follow(authorize.href));
    expect(pageKind(loginPage)).toBe('login');
    // The code comes back to /account/callback; stop there to look at it.
    const back = await ua.submit(loginPage, LOGIN_FORM, login(ALICE), `${gh.issuer}/account/callback`);
    if (isPage(back)) expect.fail(`expected a redirect to the callback, got ${back.status} ${visibleText(back).slice(0, 200)}`);
    const callback = new URL(back.redirectedTo);
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();

    // A forged state is refused (and nothing is signed in by the callback itself).
    const forged = new URL(callback);
    forged.searchParams.set('state', 'x'.repeat(43));
    const refused = expectPage(await new UserAgent().follow(forged.href));
    expect(refused.status).toBe(400);
    expectNoStackTrace(refused);

    const page = expectPage(await ua.follow(callback.href));
    expect(page.url).toBe(accountUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const profile = page.$('dl.profile').text();
    expect(profile).toContain(ALICE.username);
    expect(profile).toContain(ALICE.name);
    expect(profile).toContain(ALICE.email);
    // The code was redeemed on the spot: none of the account client's codes is left.
    expect(await count(`oidc_models WHERE model = 'AuthorizationCode' AND payload ->> 'clientId' = 'gatehouse-account'`)).toBe(0);

    // The callback cannot be replayed.
    const replay = expectPage(await ua.follow(callback.href));
    expect(replay.status).toBe(400);
    // The built-in client is not an application the user allowed.
    expect(appsOn(page).map((a) => a.clientId)).not.toContain('gatehouse-account');
    expect(page.$('#apps').length).toBe(0);
  });

  it('says so when the user cancels signing in', async () => {
    const ua = new UserAgent();
    const loginPage = expectPage(await ua.follow(accountUrl));
    expect(pageKind(loginPage)).toBe('login');
    const cancelled = expectPage(await ua.submit(loginPage, 'form[action$="/abort"]'));
    expect(cancelled.url).toMatch(/\/account\/callback\?/);
    expect(cancelled.status).toBe(401);
    expect(cancelled.$('h1').text()).toBe('Not signed in');
    expect(cancelled.$('a[href="/account"]').length).toBe(1);
  });
});

describe('the built-in client', () => {
  it('survives a config reload and its id is reserved in the config file', async () => {
    await gh.gatehouse.applyConfig(testConfig());
    expect(await count(`clients WHERE client_id = 'gatehouse-account'`)).toBe(1);
    const reserved = gatehouseConfigSchema.safeParse({
      clients: [{ client_id: 'gatehouse-account', token_endpoint_auth_method: 'none', redirect_uris: [`${RP}/x`] }],
    });
    expect(reserved.success).toBe(false);
    expect(reserved.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['clients.0.client_id', '"gatehouse-account" is reserved for the built-in account page'],
    ]);
    // Restore the clients this file's other tests use.
    await gh.gatehouse.applyConfig(config);
    await openAccount(new UserAgent(), login(ALICE));
  });
});

describe('sessions', () => {
  it('lists each session and signs out exactly the one chosen; the current one clears its cookie', async () => {
    const other = await signIn(web, { credentials: login(BOB), consent: 'allow' });
    const ua = new UserAgent();
    const page = await openAccount(ua, login(BOB));

    const sessions = sessionsOn(page);
    expect(sessions).toHaveLength(2);
    const current = sessions.find((s) => s.current)!;
    const elsewhere = sessions.find((s) => !s.current)!;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(elsewhere.text).toContain('Web App');
    expect(elsewhere.text).toContain('127.0.0.1');
    expect(current.text).not.toContain('Gatehouse account');

    const after = await post(ua, page, endFormOf(elsewhere.id));
    expect(after.url).toBe(`${accountUrl}?done=session-ended`);
    expect(after.$('.notice').text()).toBe('The session was signed out.');
    expect(sessionsOn(after).map((s) => s.id)).toEqual([current.id]);
    // That browser is signed out; this one is not.
    expect(await promptNone(other.ua)).toBe('login_required');
    await openAccount(ua);
    expect(await auditEvents(BOB.username, 'sessions.revoked')).toEqual([{ sessions: 1, current: false }]);

    // An ended session cannot be ended again.
    const again = await ua.follow(`${gh.issuer}/account/sessions/end`, {
      method: 'POST',
      form: { session: elsewhere.id, csrf_token: after.$(`${endFormOf(current.id)} input[name="csrf_token"]`).attr('value')! },
    });
    expect(expectPage(again).status).toBe(404);

    const signedOut = await ua.submit(after, endFormOf(current.id), {});
    const out = expectPage(signedOut);
    expect(out.url).toBe(`${gh.issuer}/account/signed-out`);
    expect(out.$('h1').text()).toBe('You are signed out');
    expect(await ua.jar.getCookieString(accountUrl)).not.toMatch(/_session=/);
    const signInAgain = await ua.request(accountUrl);
    expect(signInAgain.status).toBe(303);
    expect(new URL(signInAgain.headers.get('location')!, accountUrl).pathname).toBe('/auth');
    expect(await count(`oidc_models WHERE model = 'Session' AND account_id = $1`, [await subOf(BOB.username)])).toBe(0);
  });

  it('signs out everywhere: every session ends, with back-channel logouts', async () => {
    const elsewhere = await signIn(bcl, { redirectUri: BCL_CALLBACK, credentials: login(DAVE), consent: 'allow' });
    const ua = new UserAgent();
    const page = await openAccount(ua, login(DAVE));
    expect(sessionsOn(page)).toHaveLength(2);

    const out = await post(ua, page, EVERYWHERE_FORM);
    expect(out.url).toBe(`${gh.issuer}/account/signed-out`);
    expect(out.status).toBe(200);
    expect(await promptNone(elsewhere.ua, bcl, BCL_CALLBACK)).toBe('login_required');
    expect((await ua.request(accountUrl)).status).toBe(303);
    expect(await count(`oidc_models WHERE model = 'Session' AND account_id = $1`, [await subOf(DAVE.username)])).toBe(0);

    expect(deliveries).toHaveLength(1);
    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const { payload } = await jwtVerify(deliveries[0]!.logoutToken!, jwks, { issuer: gh.issuer, audience: 'bcl', typ: 'logout+jwt' });
    expect(payload.sub).toBe(await subOf(DAVE.username));
    expect(payload.sid).toBe(elsewhere.tokens.claims()!.sid);
    expect(await auditEvents(DAVE.username, 'sessions.revoked')).toEqual([{ sessions: 2, everywhere: true }]);
  });
});

describe('applications', () => {
  it('lists what an application was allowed, and revoking it ends its tokens, notifies it and asks consent again', async () => {
    const granted = await signIn(bcl, {
      redirectUri: BCL_CALLBACK,
      scope: 'openid profile offline_access things:read',
      params: { prompt: 'consent' },
      credentials: login(FRANK),
      consent: 'allow',
    });
    const refreshToken = granted.tokens.refresh_token!;
    expect(refreshToken).toBeTruthy();
    const page = await openAccount(granted.ua);
    expect(sessionsOn(page)[0]!.text).toContain('Back-channel App');

    const apps = appsOn(page);
    expect(apps.map((a) => a.clientId)).toEqual(['bcl']);
    const [app] = apps;
    expect(app!.text).toContain('Back-channel App');
    expect(app!.text).toContain(SCOPE_DESCRIPTIONS.profile);
    expect(app!.text).toContain(SCOPE_DESCRIPTIONS.offline_access);
    expect(app!.text).toContain('Things API: things:read');
    // An API's scope is shown under that API, not among the OpenID scopes.
    const openidScopes = page
      .$('#apps li.entry ul.scopes:not(.apis) li')
      .toArray()
      .map((el) => page.$(el).text());
    expect(new Set(openidScopes)).toEqual(new Set([SCOPE_DESCRIPTIONS.openid, SCOPE_DESCRIPTIONS.profile, SCOPE_DESCRIPTIONS.offline_access]));

    const after = await post(granted.ua, page, revokeFormOf('bcl'));
    expect(after.url).toBe(`${accountUrl}?done=app-revoked`);
    expect(after.$('.notice').text()).toMatch(/Access removed/);
    expect(appsOn(after)).toEqual([]);
    expect(sessionsOn(after)[0]!.text).not.toContain('Back-channel App');

    await expect(oidc.refreshTokenGrant(bcl, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(deliveries).toHaveLength(1);
    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const { payload } = await jwtVerify(deliveries[0]!.logoutToken!, jwks, { issuer: gh.issuer, audience: 'bcl', typ: 'logout+jwt' });
    expect(payload.sub).toBe(granted.tokens.claims()!.sub);

    const next = await startAuthorization(bcl, { ua: granted.ua, redirectUri: BCL_CALLBACK });
    expect(pageKind(expectPage(next.landing))).toBe('consent');
    expect(await auditEvents(FRANK.username, 'consent.revoked')).toEqual([{ grants_revoked: 1 }]);

    // Nothing left to revoke.
    const revokeToken = page.$(`${revokeFormOf('bcl')} input[name="csrf_token"]`).attr('value')!;
    const none = await granted.ua.follow(`${gh.issuer}/account/apps/revoke`, { method: 'POST', form: { client_id: 'bcl', csrf_token: revokeToken } });
    expect(expectPage(none).status).toBe(404);
  });
});

describe('changing the password', () => {
  it('needs the current password and a good new one, then ends the other sessions and keeps this one', async () => {
    const other = await signIn(web, { credentials: login(CAROL), consent: 'allow' });
    const ua = new UserAgent();
    const page = await openAccount(ua, login(CAROL));
    const fresh = 'a brand new passphrase for carol';

    const wrong = await post(ua, page, PASSWORD_FORM, { current_password: 'not my password at all', new_password: fresh, confirm_password: fresh });
    expect(wrong.status).toBe(401);
    expect(wrong.$('#password-error').text()).toBe('Your current password is incorrect.');
    expect(wrong.$('h1').text()).toBe('Your account');

    const common = await post(ua, wrong, PASSWORD_FORM, { current_password: CAROL.password, new_password: 'password1', confirm_password: 'password1' });
    expect(common.status).toBe(400);
    expect(common.$('#password-error').text()).toBe(`The new password ${COMMON_PASSWORD}.`);

    const mismatch = await post(ua, common, PASSWORD_FORM, { current_password: CAROL.password, new_password: fresh, confirm_password: `${fresh}!` });
    expect(mismatch.status).toBe(400);
    expect(mismatch.$('#password-error').text()).toMatch(/do not match/);
    // None of these changed anything.
    expect(await promptNone(other.ua)).toBe('code');

    const done = await post(ua, mismatch, PASSWORD_FORM, { current_password: CAROL.password, new_password: fresh, confirm_password: fresh });
    expect(done.url).toBe(`${accountUrl}?done=password-changed`);
    expect(done.$('.notice').text()).toMatch(/password was changed/);
    expect(sessionsOn(done)).toHaveLength(1);
    expect(sessionsOn(done)[0]!.current).toBe(true);
    expect(await promptNone(other.ua)).toBe('login_required');
    await openAccount(ua);

    // The old password no longer signs in (one attempt: the login throttle counts each).
    const { ua: oldUa, landing } = await startAuthorization(web);
    const withOld = expectPage(await oldUa.submit(expectPage(landing), LOGIN_FORM, login(CAROL), RP));
    expect(withOld.status).toBe(401);
    const withNew = await signIn(web, { credentials: { login: CAROL.username, password: fresh } });
    expect(withNew.tokens.claims()!.sub).toBe(await subOf(CAROL.username));
    expect(await auditEvents(CAROL.username, 'password.changed')).toEqual([{ sessions_ended: 1, grants_revoked: 1, logouts: 0 }]);

    // The security events say it in words, and show no secret.
    const events = (await openAccount(ua))
      .$('#events li')
      .toArray()
      .map((el) => page.$(el).text().replace(/\s+/g, ' '));
    expect(events[0]).toMatch(/Signed in to Web App from 127\.0\.0\.1/);
    expect(events.some((e) => /Password changed from 127\.0\.0\.1/.test(e))).toBe(true);
    expect(events.some((e) => /Password change refused \(wrong current password\)/.test(e))).toBe(true);
    expect(events.some((e) => /Failed sign-in \(wrong password\)/.test(e))).toBe(true);
    const body = (await openAccount(ua)).body;
    for (const secret of [CAROL.password, fresh, 'not my password at all']) expect(body).not.toContain(secret);
  });
});

// Issue #10, point 7: anyone can keep trying a locked login, and every refusal used to be an
// audit row of its own, flooding the user's own list of security events.
describe('security events', () => {
  it('show the attempts refused during a lockout as one entry with their count, not one each', async () => {
    const tryPassword = async (password: string) => {
      const ua = new UserAgent();
      const loginPage = expectPage(await ua.follow(accountUrl));
      return expectPage(await ua.submit(loginPage, LOGIN_FORM, { login: HEIDI.username, password })).status;
    };
    // Five wrong passwords lock the login (LOGIN_MAX_FAILURES_PER_ACCOUNT); then someone keeps trying.
    for (let i = 0; i < 5; i++) await tryPassword(`wrong guess ${i}`);
    const refused = 30;
    for (let i = 0; i < refused; i++) expect(await tryPassword(`locked guess ${i}`)).toBe(429);
    // An operator lifts the lockout (README: users unlock); Heidi signs in and looks.
    const sub = await subOf(HEIDI.username);
    await gh.testDb.db.query(`DELETE FROM login_limits WHERE key LIKE 'account:%'`);
    const page = await openAccount(new UserAgent(), login(HEIDI));
    const events = page
      .$('#events li')
      .toArray()
      .map((el) => page.$(el).text().replace(/\s+/g, ' '));
    const lockedOut = events.filter((e) => /too many failed attempts, sign-in was locked/.test(e));
    expect(lockedOut).toHaveLength(1);
    expect(lockedOut[0]).toMatch(new RegExp(`${refused} times`));
    expect(events.filter((e) => /Failed sign-in \(wrong password\)/.test(e))).toHaveLength(5);
    expect(events[0]).toMatch(/Signed in/);
    // One row holds them all.
    const { rows } = await gh.testDb.db.query<{ repeat_count: number }>(
      `SELECT repeat_count FROM audit_events WHERE event = 'login.failure' AND account_id = $1 AND details->>'reason' = 'locked_out'`,
      [sub],
    );
    expect(rows).toEqual([{ repeat_count: refused }]);
  });
});

describe('a password change evicts whoever held the old password (issue #10)', () => {
  it("ends the thief's session, revokes its offline refresh token and access token, sends the logout, and keeps this browser", async () => {
    // The thief signed in with the stolen password and kept an offline_access refresh token.
    const thief = await signIn(bcl, {
      redirectUri: BCL_CALLBACK,
      scope: 'openid offline_access',
      params: { prompt: 'consent' },
      credentials: login(GRACE),
      consent: 'allow',
    });
    const { refresh_token: refreshToken, access_token: accessToken } = thief.tokens;
    expect(refreshToken).toBeTypeOf('string');
    const app = { clientId: 'bcl', secret: BCL_SECRET };
    expect((await userinfo(gh.issuer, accessToken)).status).toBe(200);

    const ua = new UserAgent();
    const page = await openAccount(ua, login(GRACE));
    const fresh = 'grace chose a brand new passphrase';
    const done = await post(ua, page, PASSWORD_FORM, { current_password: GRACE.password, new_password: fresh, confirm_password: fresh });
    expect(done.url).toBe(`${accountUrl}?done=password-changed`);

    const refreshed = await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: refreshToken! });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect((await userinfo(gh.issuer, accessToken)).status).toBe(401);
    expect((await introspect(gh.issuer, app, accessToken)).body).toEqual({ active: false });
    expect(await promptNone(thief.ua, bcl, BCL_CALLBACK)).toBe('login_required');
    // The application was told, with a logout token for the thief's session.
    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const told = await Promise.all(deliveries.map(async (d) => (await jwtVerify(d.logoutToken!, jwks, { issuer: gh.issuer, audience: 'bcl' })).payload));
    expect(told).toEqual([expect.objectContaining({ sub: await subOf(GRACE.username), sid: thief.tokens.claims()!.sid })]);
    // The browser that changed it stays signed in.
    expect(sessionsOn(await openAccount(ua))).toEqual([expect.objectContaining({ current: true })]);
    expect(await auditEvents(GRACE.username, 'password.changed')).toEqual([{ sessions_ended: 1, grants_revoked: 2, logouts: 1 }]);
  });

  it('says why a new password was refused', async () => {
    const ua = new UserAgent();
    const page = await openAccount(ua, { login: GRACE.username, password: 'grace chose a brand new passphrase' });
    for (const [bad, why] of [
      [' '.repeat(10), 'must contain visible characters, not only spaces or invisible ones'],
      ['aaaaaaaaaa', 'is too easy to guess: repeated characters like "aaa" are easy to guess'],
      ['!password!', COMMON_PASSWORD],
    ] as const) {
      const refused = await post(ua, page, PASSWORD_FORM, { current_password: 'grace chose a brand new passphrase', new_password: bad, confirm_password: bad });
      expect(refused.status).toBe(400);
      expect(refused.$('#password-error').text()).toBe(`The new password ${why}.`);
    }
  });
});

describe('CSRF and bad input', () => {
  it('every form carries a csrf_token; a POST without a valid one is refused with 403 and changes nothing', async () => {
    const granted = await signIn(web, { scope: 'openid profile', credentials: login(ERIN), consent: 'allow' });
    const ua = granted.ua;
    const page = await openAccount(ua);
    const forms = page.$('form').toArray();
    expect(forms.length).toBeGreaterThanOrEqual(4);
    for (const el of forms) {
      const input = page.$(el).find('input[name="csrf_token"]');
      expect(input.attr('type')).toBe('hidden');
      expect(input.attr('value')).toMatch(/\S{20,}/);
    }
    const aliceUa = new UserAgent();
    const alicePage = await openAccount(aliceUa, login(ALICE));
    const erinSession = sessionsOn(page).find((s) => s.current)!.id;
    const aliceSession = sessionsOn(alicePage).find((s) => s.current)!.id;
    const hashBefore = await gh.testDb.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', [ERIN.username]);

    const posts: [string, Record<string, string>, string][] = [
      ['/account/sessions/end', { session: erinSession }, endFormOf(erinSession)],
      ['/account/apps/revoke', { client_id: 'web' }, revokeFormOf('web')],
      [
        '/account/password',
        { current_password: ERIN.password, new_password: 'another fine passphrase', confirm_password: 'another fine passphrase' },
        PASSWORD_FORM,
      ],
      ['/account/sign-out-everywhere', {}, EVERYWHERE_FORM],
    ];
    for (const [path, fields, form] of posts) {
      const own = page.$(`${form} input[name="csrf_token"]`).attr('value')!;
      const foreign = alicePage.$(`${form.replace(erinSession, aliceSession)} input[name="csrf_token"]`).attr('value')!;
      const otherForm = page.$(`${path === '/account/sign-out-everywhere' ? PASSWORD_FORM : EVERYWHERE_FORM} input[name="csrf_token"]`).attr('value')!;
      const altered = `${own.slice(0, -2)}${own.endsWith('AA') ? 'BB' : 'AA'}`;
      for (const token of [undefined, '', altered, foreign, otherForm]) {
        const response = expectPage(
          await ua.follow(`${gh.issuer}${path}`, { method: 'POST', form: token === undefined ? fields : { ...fields, csrf_token: token } }),
        );
        expect(response.status, `${path} with ${token === undefined ? 'no token' : JSON.stringify(token)}`).toBe(403);
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(visibleText(response)).toContain('This form has expired.');
        expectNoStackTrace(response);
      }
    }
    // Nothing changed: the session, the application's access and the password are as they were.
    const still = await openAccount(ua);
    expect(sessionsOn(still).map((s) => s.id)).toEqual([erinSession]);
    expect(appsOn(still).map((a) => a.clientId)).toEqual(['web']);
    const hashAfter = await gh.testDb.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', [ERIN.username]);
    expect(hashAfter.rows[0]!.password_hash).toBe(hashBefore.rows[0]!.password_hash);
    expect(await auditEvents(ERIN.username, 'sessions.revoked')).toEqual([]);
    expect(await auditEvents(ERIN.username, 'consent.revoked')).toEqual([]);

    // Someone else's session cannot be ended from this account, even with a valid token.
    const endToken = still.$(`${endFormOf(erinSession)} input[name="csrf_token"]`).attr('value')!;
    const foreignSession = expectPage(
      await ua.follow(`${gh.issuer}/account/sessions/end`, { method: 'POST', form: { session: aliceSession, csrf_token: endToken } }),
    );
    expect(foreignSession.status).toBe(404);
    await openAccount(aliceUa);

    // Bad input: 4xx pages, never a 5xx.
    const malformed = expectPage(await ua.follow(`${gh.issuer}/account/sessions/end`, { method: 'POST', form: { session: '../../x', csrf_token: endToken } }));
    expect(malformed.status).toBe(400);
    const revokeToken = still.$(`${revokeFormOf('web')} input[name="csrf_token"]`).attr('value')!;
    const noClient = expectPage(await ua.follow(`${gh.issuer}/account/apps/revoke`, { method: 'POST', form: { csrf_token: revokeToken } }));
    expect(noClient.status).toBe(400);
    const builtIn = expectPage(
      await ua.follow(`${gh.issuer}/account/apps/revoke`, { method: 'POST', form: { client_id: 'gatehouse-account', csrf_token: revokeToken } }),
    );
    expect(builtIn.status).toBe(404);
    const passwordToken = still.$(`${PASSWORD_FORM} input[name="csrf_token"]`).attr('value')!;
    const noFields = expectPage(await ua.follow(`${gh.issuer}/account/password`, { method: 'POST', form: { csrf_token: passwordToken } }));
    expect(noFields.status).toBe(400);
    expect(noFields.$('#password-error').text()).toBe('Enter your current password.');

    // Without a session at all: "sign-in required", not a form error.
    const stranger = expectPage(await new UserAgent().follow(`${gh.issuer}/account/sign-out-everywhere`, { method: 'POST', form: { csrf_token: endToken } }));
    expect(stranger.status).toBe(401);
    expectNoStackTrace(stranger);
  });
});

describe('the log', () => {
  it('has no error line and no password from any of the above', () => {
    expect(gh.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    for (const u of [ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE]) expect(gh.rawLogs()).not.toContain(u.password);
  });
});
