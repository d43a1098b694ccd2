import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { RP, testConfig } from '../support/fixtures.js';
import type { oidc } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { awayFromStepEnd, totpCode } from '../support/mfa.js';
import { startSmtpSink, type SinkMessage, type SmtpSink } from '../support/smtp_sink.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';

// /account's profile section (name claims; a new address confirmed by a link to it, a notice to
// the old one), the password-change notice, and registration with verification off (it signs in).

const FP_CALLBACK = `${RP}/fp/callback`;
const PETRA = { username: 'petra', email: 'petra@example.test', name: 'Petra Old', password: 'petra paints the harbour at dawn' };

let sink: SmtpSink;
let gh: RunningGatehouse;
let rp: oidc.Configuration;

beforeAll(async () => {
  sink = await startSmtpSink();
  const config = testConfig({ self_service: { registration: 'open', password_reset: true, email_verification: false, allowed_email_domains: [] } });
  ({ gh } = await startGatehouseWithUsers([PETRA], { config, env: { SMTP_URL: sink.url } }));
  rp = await rpFor(gh, 'first-party');
});
afterAll(async () => {
  await gh?.close();
  await sink?.close();
});

const mailsTo = (address: string) => sink.messages.filter((m) => m.to.includes(address));
const linkIn = (message: SinkMessage) => /https?:\/\/\S+/.exec(message.text)![0];

async function openAccount(ua: UserAgent, login = PETRA.username, password = PETRA.password): Promise<Page> {
  let page = expectPage(await ua.follow(`${gh.issuer}/account`));
  if (pageKind(page) === 'login') page = expectPage(await ua.submit(page, LOGIN_FORM, { login, password }));
  expect(page.$('h1').text()).toBe('Your account');
  return page;
}

async function events(username: string): Promise<string[]> {
  const { rows } = await gh.testDb.db.query<{ event: string }>(
    `SELECT event FROM audit_events WHERE account_id = (SELECT sub FROM users WHERE username = $1) ORDER BY id`,
    [username],
  );
  return rows.map((r) => r.event);
}

describe('registration with verification off', () => {
  it('signs the new user in and continues to the application', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const login = expectPage(started.landing);
    const form = expectPage(await started.ua.follow(new URL(login.$('a#create-account').attr('href')!, gh.issuer).href));
    const landing = await started.ua.submit(
      form,
      'form[action$="/register"]',
      { username: 'quinn', email: 'quinn@example.test', name: 'Quinn', password: 'quinn cycles along the canal' },
      RP,
    );
    expect(expectRedirect(landing).searchParams.get('code')).toBeTruthy();
    expect(await events('quinn')).toEqual(expect.arrayContaining(['registration.completed', 'login.success']));
  });
});

describe('/account profile', () => {
  it('edits name, given_name and family_name (CSRF-protected), audited and listed', async () => {
    const ua = new UserAgent();
    const page = await openAccount(ua);
    expect(page.$('#profile-form input[name="csrf_token"]')).toHaveLength(1);
    const forged = await ua.request(`${gh.issuer}/account/profile`, { method: 'POST', form: { name: 'Evil' } });
    expect(forged.status).toBe(403);
    const tooLong = expectPage(await ua.submit(page, '#profile-form', { name: 'x'.repeat(201) }));
    expect(tooLong.status).toBe(400);
    expect(tooLong.$('#profile-name-error').text()).toMatch(/200/);
    const saved = expectPage(await ua.submit(page, '#profile-form', { name: 'Petra New', given_name: 'Petra', family_name: 'New' }));
    expect(saved.status).toBe(200);
    expect(saved.$('[role="status"]').text()).toMatch(/profile was saved/);
    const { rows } = await gh.testDb.db.query(`SELECT name, given_name, family_name FROM users WHERE username = 'petra'`);
    expect(rows[0]).toEqual({ name: 'Petra New', given_name: 'Petra', family_name: 'New' });
    expect(visibleText(saved)).toContain('Profile changed (name, given name, family name)');
  });

  it('changes the address only through the link mailed to the new one; the old one gets a notice', async () => {
    const ua = new UserAgent();
    const page = await openAccount(ua);
    const asked = expectPage(await ua.submit(page, '#email-form', { email: 'petra.new@example.test' }));
    expect(asked.$('[role="status"]').text()).toMatch(/confirmation link/);
    const link = linkIn(await sink.waitFor('petra.new@example.test'));
    const notice = await sink.waitFor('petra@example.test');
    expect(notice.text).toContain('petra.new@example.test');
    expect(notice.text).not.toMatch(/https?:\/\//);
    // Until confirmed, the old address stays.
    let { rows } = await gh.testDb.db.query(`SELECT email FROM users WHERE username = 'petra'`);
    expect(rows[0]).toEqual({ email: 'petra@example.test' });

    const confirm = expectPage(await new UserAgent().follow(link));
    expect(confirm.status).toBe(200);
    const done = expectPage(await ua.submit(confirm, 'form[action="/account/email/confirm"]'));
    expect(done.status).toBe(200);
    ({ rows } = await gh.testDb.db.query(`SELECT email, email_verified FROM users WHERE username = 'petra'`));
    expect(rows[0]).toEqual({ email: 'petra.new@example.test', email_verified: true });
    // Single use.
    expect(expectPage(await ua.follow(link)).status).toBe(400);
    expect(await events('petra')).toEqual(expect.arrayContaining(['email.change_requested', 'email.changed']));
  });

  it('mails a notice when the password is changed', async () => {
    const ua = new UserAgent();
    const page = await openAccount(ua, 'petra.new@example.test');
    const before = mailsTo('petra.new@example.test').length;
    const changed = expectPage(
      await ua.submit(page, 'form[action="/account/password"]', {
        current_password: PETRA.password,
        new_password: 'petra climbs the old stone tower',
        confirm_password: 'petra climbs the old stone tower',
      }),
    );
    expect(changed.status).toBe(200);
    await expect.poll(() => mailsTo('petra.new@example.test').length).toBe(before + 1);
    expect(mailsTo('petra.new@example.test').at(-1)!.subject).toMatch(/Password changed/);
  });

  it('mails a notice when an authenticator app is set up', async () => {
    const ua = new UserAgent();
    const page = await openAccount(ua, 'petra.new@example.test', 'petra climbs the old stone tower');
    const before = mailsTo('petra.new@example.test').length;
    const setup = expectPage(await ua.submit(page, '#totp-start'));
    const secret = setup.$('#totp-secret').text().replace(/\s/g, '');
    await awayFromStepEnd();
    const enrolled = expectPage(await ua.submit(setup, '#totp-confirm', { code: totpCode(secret, -1) }));
    expect(enrolled.$('[role="status"]').text()).toMatch(/authenticator app is set up/);
    await expect.poll(() => mailsTo('petra.new@example.test').length).toBe(before + 1);
    const notice = mailsTo('petra.new@example.test').at(-1)!;
    expect(notice.subject).toMatch(/Authenticator app added/);
    expect(notice.text).not.toMatch(/https?:\/\//);
  });
});
