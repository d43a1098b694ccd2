import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUser, rpFor, signedInBrowser, startGatehouseWithUsers } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { firstLink, startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import { eventually } from '../support/eventually.js';
import { oidc } from '../support/relying_party.js';
import { RP } from '../support/fixtures.js';
import { verifyPassword } from '../../src/accounts/passwords.js';

// Forgotten passwords (#16): the form never tells which addresses exist, the mailed link works
// once for 30 minutes and only the newest one, and the new password evicts every old session.

function expectPage(result: Page | { redirectedTo: string }): Page {
  if (!isPage(result)) throw new Error(`redirected to ${result.redirectedTo}`);
  return result;
}

describe('forgot password', () => {
  let gh: RunningGatehouse;
  let sink: SmtpSink;
  const ada = buildUser({ username: 'ada', email: 'ada@example.test', name: 'Ada Lovelace' });
  const eve = buildUser({ username: 'eve', email: 'eve@example.test' });
  beforeAll(async () => {
    sink = await startSmtpSink();
    ({ gh } = await startGatehouseWithUsers([ada, eve], { env: { SMTP_URL: sink.url } }));
  });
  afterAll(async () => {
    await gh?.close();
    await sink?.close();
  });

  async function requestReset(email: string, ua = new UserAgent()) {
    const form = expectPage(await ua.follow(`${gh.issuer}/forgot-password`));
    expect(form.status).toBe(200);
    return expectPage(await ua.submit(form, 'form[action="/forgot-password"]', { email }));
  }
  const mailsTo = (to: string) => sink.messages.filter((m) => m.to.includes(to));

  it('answers a known and an unknown address with the same page, and mails only the known one', async () => {
    const known = await requestReset('ada@example.test');
    const unknown = await requestReset('nobody@example.test');
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(known.status);
    expect(unknown.$('main').html()).toBe(known.$('main').html());
    const message = await sink.waitFor('ada@example.test');
    expect(message.subject).toContain('Reset your');
    expect(firstLink(message)).toMatch(new RegExp(`^${gh.issuer}/reset-password\\?token=[A-Za-z0-9_-]{43}$`));
    await gh.gatehouse.mailer.idle();
    expect(sink.messages.some((m) => m.to.includes('nobody@example.test'))).toBe(false);
    const { rows } = await gh.testDb.db.query<{ event: string }>(`SELECT event FROM audit_events WHERE event LIKE 'password_reset.%'`);
    expect(rows.map((r) => r.event)).toEqual(['password_reset.requested']);
    // No link, token or address in the log.
    expect(gh.rawLogs()).not.toContain(firstLink(message));
    expect(gh.rawLogs()).not.toContain('ada@example.test');
  });

  it('the link sets a password once, ends the old sessions and revokes old refresh tokens; the old password stops working', async () => {
    const rp = await rpFor(gh, 'web');
    const before = await signedInBrowser(rp, eve, { scope: 'openid offline_access', params: { prompt: 'consent' } });
    const refreshToken = before.tokens.refresh_token!;
    expect(refreshToken).toBeTypeOf('string');

    await requestReset('eve@example.test');
    const link = firstLink(await sink.waitFor('eve@example.test'));
    const ua = new UserAgent();
    const form = expectPage(await ua.follow(link));
    expect(form.status).toBe(200);
    expect(form.$('input[name="password"]').length).toBe(1);
    const weak = expectPage(await ua.submit(form, 'form[action="/reset-password"]', { password: 'password' }));
    expect(weak.status).toBe(400);
    expect(weak.$('.error').text()).toContain('common');
    const fresh = 'eve picked a long fresh passphrase';
    const done = expectPage(await ua.submit(weak, 'form[action="/reset-password"]', { password: fresh }));
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toBe('Your password is set');
    // The owner is told, in case the reset was not theirs.
    await eventually(() => sink.messages.some((m) => m.to.includes('eve@example.test') && m.subject.startsWith('Password changed')), {
      what: 'the password-changed notice',
    });

    await expect(oidc.refreshTokenGrant(rp, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The old password is no longer the account's.
    const { rows: hashes } = await gh.testDb.db.query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE username = 'eve'`);
    expect(await verifyPassword(hashes[0]!.password_hash, eve.password)).toBe(false);
    const { rows: sessions } = await gh.testDb.db.query(
      `SELECT 1 FROM oidc_models WHERE model = 'Session' AND account_id = (SELECT sub::text FROM users WHERE username = 'eve')`,
    );
    expect(sessions).toHaveLength(0);
    const signedIn = await signedInBrowser(rp, { username: 'eve', password: fresh });
    expect(signedIn.tokens.id_token).toBeTypeOf('string');

    // Once only.
    const again = expectPage(await new UserAgent().follow(link));
    expect(again.status).toBe(400);
    expect(again.$('h1').text()).toBe('This link no longer works');
    const { rows } = await gh.testDb.db.query<{ event: string }>(
      `SELECT event FROM audit_events WHERE event = 'password_reset.completed' AND username = 'eve'`,
    );
    expect(rows).toHaveLength(1);
  });

  it('a newer link kills the older one; an expired link is refused', async () => {
    sink.messages.length = 0;
    await requestReset('ada@example.test');
    const older = firstLink(await sink.waitFor('ada@example.test'));
    await requestReset('ada@example.test');
    await eventually(() => mailsTo('ada@example.test').length === 2, { what: 'the second mail' });
    const newer = firstLink(mailsTo('ada@example.test')[1]!);
    expect(newer).not.toBe(older);
    expect(expectPage(await new UserAgent().follow(older)).status).toBe(400);
    const live = expectPage(await new UserAgent().follow(newer));
    expect(live.status).toBe(200);

    await gh.testDb.db.query(`UPDATE link_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'password_reset'`);
    const expired = expectPage(await new UserAgent().submit(live, 'form[action="/reset-password"]', { password: 'a perfectly good passphrase' }));
    expect(expired.status).toBe(400);
    expect(expired.$('h1').text()).toBe('This link no longer works');
    // The password did not change.
    const rp = await rpFor(gh, 'web');
    await signedInBrowser(rp, ada);
  });

  it('the login page links to the form, and a reset started there leads back to the sign-in', async () => {
    const rp = await rpFor(gh, 'web');
    const ua = new UserAgent();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: `${RP}/callback`,
      scope: 'openid',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    const login = expectPage(await ua.follow(url.href, {}, RP));
    const forgot = login.$('a:contains("Forgot password?")').attr('href') ?? '';
    expect(forgot).toMatch(/^\/forgot-password\?interaction=/);
    const form = expectPage(await ua.follow(`${gh.issuer}${forgot}`));
    sink.messages.length = 0;
    await ua.submit(form, 'form[action="/forgot-password"]', { email: 'ada@example.test' });
    const link = firstLink(await sink.waitFor('ada@example.test'));
    const reset = expectPage(await ua.follow(link));
    const done = expectPage(await ua.submit(reset, 'form[action="/reset-password"]', { password: 'ada now has a new passphrase' }));
    const back = done.$('a:contains("Continue signing in")').attr('href') ?? '';
    expect(back).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
    const resumed = expectPage(await ua.follow(`${gh.issuer}${back}`, {}, RP));
    expect(resumed.$('input[name="password"]').length).toBe(1);
  });
});
