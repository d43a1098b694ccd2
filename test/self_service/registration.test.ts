import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE, RP, testConfig } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { startSmtpSink, type SinkMessage, type SmtpSink } from '../support/smtp_sink.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';

// Self-service registration over HTTP with a real SMTP server in the test process: the form,
// its per-field errors, the mailed verification link, the refused sign-in before it, the
// sign-in continuing to the application after it with email_verified true in the ID token,
// a taken address that looks like a new one, allowed domains, and registration turned off.

const FP_CALLBACK = `${RP}/fp/callback`;
const REGISTER_FORM = 'form[action$="/register"]';

let sink: SmtpSink;
let gh: RunningGatehouse;
let rp: oidc.Configuration;

beforeAll(async () => {
  sink = await startSmtpSink();
  const config = testConfig({
    self_service: { registration: 'open', password_reset: true, email_verification: true, allowed_email_domains: ['example.test'] },
  });
  ({ gh } = await startGatehouseWithUsers([ALICE], { config, env: { SMTP_URL: sink.url } }));
  rp = await rpFor(gh, 'first-party');
});
afterAll(async () => {
  await gh?.close();
  await sink?.close();
});

async function registrationForm(ua = new UserAgent()) {
  const started = await startAuthorization(rp, { ua, redirectUri: FP_CALLBACK });
  const login = expectPage(started.landing);
  expect(pageKind(login)).toBe('login');
  const href = login.$('a#create-account').attr('href');
  expect(href).toMatch(/^\/interaction\/[^/]+\/register$/);
  const form = expectPage(await started.ua.follow(new URL(href!, gh.issuer).href));
  expect(form.status).toBe(200);
  return { ...started, login, form };
}

const linkIn = (message: SinkMessage) => /https?:\/\/\S+/.exec(message.text)![0];

async function idTokenClaims(
  started: Pick<Awaited<ReturnType<typeof registrationForm>>, 'codeVerifier' | 'state' | 'nonce'>,
  landing: Page | { redirectedTo: string },
) {
  const tokens = await oidc.authorizationCodeGrant(rp, expectRedirect(landing), {
    pkceCodeVerifier: started.codeVerifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer });
  const info = await oidc.fetchUserInfo(rp, tokens.access_token, payload.sub!);
  return { ...info, ...payload };
}

describe('registration (open, verification on)', () => {
  it('shows a CSRF-protected form with username, email, name and password', async () => {
    const { form } = await registrationForm();
    const f = form.$(REGISTER_FORM);
    expect(f.attr('method')).toBe('post');
    for (const name of ['username', 'email', 'name', 'password', 'csrf_token']) expect(f.find(`input[name="${name}"]`)).toHaveLength(1);
  });

  it('says what is wrong with each field, with 400', async () => {
    const { ua, form } = await registrationForm();
    const page = expectPage(await ua.submit(form, REGISTER_FORM, { username: 'bad name!', email: 'not-an-address', name: '', password: 'password' }));
    expect(page.status).toBe(400);
    expect(page.$('#username-error').text()).toMatch(/letters, digits/);
    expect(page.$('#email-error').text()).toMatch(/email address/);
    expect(page.$('#name-error').text()).toMatch(/name/);
    expect(page.$('#password-error').text()).toMatch(/password/i);
  });

  it('refuses an address outside the allowed domains, and a taken username', async () => {
    const { ua, form } = await registrationForm();
    const outside = expectPage(
      await ua.submit(form, REGISTER_FORM, { username: 'olga', email: 'olga@elsewhere.org', name: 'Olga', password: 'olga rows across the lake' }),
    );
    expect(outside.status).toBe(400);
    expect(outside.$('#email-error').text()).toContain('example.test');
    const taken = expectPage(
      await ua.submit(outside, REGISTER_FORM, { username: ALICE.username, email: 'other@example.test', name: 'Other', password: 'a quiet walk by the sea' }),
    );
    expect(taken.status).toBe(400);
    expect(taken.$('#username-error').text()).toContain('taken');
    const { rows } = await gh.testDb.db.query(`SELECT 1 FROM users WHERE username = 'olga' OR email = 'other@example.test'`);
    expect(rows).toHaveLength(0);
  });

  it('mails a link; before it the password is refused with a resend offer; after it the app gets email_verified true', async () => {
    const started = await registrationForm();
    const done = expectPage(
      await started.ua.submit(started.form, REGISTER_FORM, {
        username: 'nina',
        email: 'nina@example.test',
        name: 'Nina Novak',
        password: 'nina sails past the lighthouse',
      }),
    );
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toBe('Check your mail');
    const message = await sink.waitFor('nina@example.test');
    expect(message.subject).toMatch(/Confirm your email address/);
    const link = linkIn(message);
    expect(link.startsWith(`${gh.issuer}/verify-email?token=`)).toBe(true);
    const { rows } = await gh.testDb.db.query<{ email_verified: boolean; verification_pending: boolean }>(
      `SELECT email_verified, verification_pending FROM users WHERE username = 'nina'`,
    );
    expect(rows[0]).toEqual({ email_verified: false, verification_pending: true });

    // The password alone does not sign in yet: said so, with a resend button.
    const other = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const refused = expectPage(await other.ua.submit(expectPage(other.landing), LOGIN_FORM, { login: 'nina', password: 'nina sails past the lighthouse' }));
    expect(refused.status).toBe(403);
    expect(refused.$('[role="alert"]').text()).toMatch(/Confirm your email address/);
    expect(refused.$('form#resend-verification')).toHaveLength(1);
    const resent = expectPage(await other.ua.submit(refused, 'form#resend-verification'));
    expect(resent.$('h1').text()).toBe('Check your mail');

    // The newest link works (the resend superseded the first) and continues the sign-in that
    // asked for it (the resend's); opening it changes nothing.
    await expect.poll(() => sink.messages.filter((m) => m.to.includes('nina@example.test')).length).toBe(2);
    const newest = linkIn(sink.messages.filter((m) => m.to.includes('nina@example.test'))[1]!);
    expect(expectPage(await started.ua.follow(link)).status).toBe(400); // superseded
    const confirm = expectPage(await other.ua.follow(newest));
    expect(confirm.status).toBe(200);
    const landing = await other.ua.submit(confirm, 'form#verify-email-form', {}, RP);
    const claims = await idTokenClaims(other, landing);
    expect(claims).toMatchObject({ email: 'nina@example.test', email_verified: true, name: 'Nina Novak' });
    // Single use.
    expect(expectPage(await started.ua.follow(newest)).status).toBe(400);
    const events = await gh.testDb.db.query<{ event: string }>(
      `SELECT event FROM audit_events WHERE account_id = (SELECT sub FROM users WHERE username = 'nina') ORDER BY id`,
    );
    expect(events.rows.map((r) => r.event)).toEqual(
      expect.arrayContaining(['registration.completed', 'email.verification_sent', 'email.verified', 'login.success']),
    );
  });

  it('answers a taken address like a new one, and mails its owner instead', async () => {
    const fresh = await registrationForm();
    const freshPage = expectPage(
      await fresh.ua.submit(fresh.form, REGISTER_FORM, {
        username: 'oscar',
        email: 'oscar@example.test',
        name: 'Oscar',
        password: 'oscar hikes up the green hill',
      }),
    );
    const taken = await registrationForm();
    const takenPage = expectPage(
      await taken.ua.submit(taken.form, REGISTER_FORM, {
        username: 'mallory',
        email: ALICE.email,
        name: 'Mallory',
        password: 'mallory hikes up the green hill',
      }),
    );
    expect(freshPage.status).toBe(200);
    expect(takenPage.status).toBe(freshPage.status);
    expect(visibleText(takenPage).replace(/interaction\/\S+/g, '')).toBe(visibleText(freshPage).replace(/interaction\/\S+/g, ''));
    const notice = await sink.waitFor(ALICE.email);
    expect(notice.subject).toMatch(/tried to register/);
    expect(notice.text).not.toMatch(/https?:\/\//);
    const { rows } = await gh.testDb.db.query(`SELECT 1 FROM users WHERE username = 'mallory'`);
    expect(rows).toHaveLength(0);
  });
});

describe('registration limit', () => {
  it('refuses registrations from one address beyond the hourly budget with 429 and Retry-After', async () => {
    const { ua, form } = await registrationForm();
    let last: Page = form;
    for (let i = 0; i < 12 && last.status !== 429; i++) {
      last = expectPage(await ua.submit(form, REGISTER_FORM, { username: `flood${i}`, email: 'not-an-address', name: 'Flood', password: 'x' }));
    }
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last.$('[role="alert"]').text()).toMatch(/Too many registrations/);
    const { rows } = await gh.testDb.db.query(`SELECT 1 FROM audit_events WHERE event = 'registration.throttled'`);
    expect(rows.length).toBeGreaterThan(0);
  });
});

describe('registration off (the default)', () => {
  let off: RunningGatehouse;
  beforeAll(async () => {
    ({ gh: off } = await startGatehouseWithUsers([], { env: { SMTP_URL: sink.url } }));
  });
  afterAll(() => off?.close());

  it('shows no link, and the form is 404', async () => {
    const offRp = await rpFor(off, 'first-party');
    const started = await startAuthorization(offRp, { redirectUri: FP_CALLBACK });
    const login = expectPage(started.landing);
    expect(login.$('a#create-account')).toHaveLength(0);
    const uid = /\/interaction\/([^/]+)\/login/.exec(login.$(LOGIN_FORM).attr('action')!)![1]!;
    const page = expectPage(await started.ua.follow(`${off.issuer}/interaction/${uid}/register`));
    expect(page.status).toBe(404);
  });
});
