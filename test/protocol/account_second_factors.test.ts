import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, pageKind, visibleText } from '../support/hosted_pages.js';
import { awayFromStepEnd, totpCode } from '../support/mfa.js';
import type { User } from '../../src/accounts/users_repo.js';

// Two-step verification on /account: set up an authenticator app (QR code and the secret as
// text, confirmed with a code before it counts), create recovery codes (shown once, stored
// hashed), remove the app; the next sign-in to /account asks for a code; every step is audited
// and listed among the security events. The secret is stored sealed, never as typed.

const USER = buildUser();
let gh: RunningGatehouse;
let users: User[];
let accountUrl: string;

beforeAll(async () => {
  ({ gh, users } = await startGatehouseWithUsers([USER]));
  accountUrl = `${gh.issuer}/account`;
});
afterAll(() => gh?.close());

async function post(ua: UserAgent, page: Page, selector: string, fields: Record<string, string> = {}): Promise<Page> {
  return expectPage(await ua.submit(page, selector, fields));
}

describe('/account two-step verification', () => {
  it('sets up an authenticator app, creates recovery codes, and then asks for a code at sign-in', async () => {
    const sub = users[0]!.sub;
    const ua = new UserAgent();
    const login = expectPage(await ua.follow(accountUrl));
    let page = expectPage(await ua.submit(login, LOGIN_FORM, credentialsOf(USER)));
    expect(page.$('h1').text()).toBe('Your account');
    expect(page.$('#totp-status').text()).toContain('Off.');
    expect(page.$('#recovery-codes-form')).toHaveLength(0);

    page = await post(ua, page, '#totp-start');
    expect(page.$('#totp-confirm input[name="code"]')).toHaveLength(1);
    expect(page.$('.qr[role="img"] > svg')).toHaveLength(1);
    const secret = page.$('#totp-secret').text().replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // Not yet a factor: unconfirmed.
    expect((await gh.testDb.db.query('SELECT 1 FROM mfa_totp WHERE sub = $1 AND confirmed_at IS NOT NULL', [sub])).rows).toHaveLength(0);

    const wrong = await post(ua, page, '#totp-confirm', { code: 'abcdef' });
    expect(wrong.status).toBe(400);
    expect(wrong.$('#totp-error').text()).toContain('That code is not right.');
    await awayFromStepEnd();
    page = await post(ua, wrong, '#totp-confirm', { code: totpCode(secret, -1) });
    expect(page.url).toBe(`${accountUrl}?done=totp-enrolled`);
    expect(page.$('#totp-status').text()).toContain('On:');
    expect(page.$('#recovery-status').text()).toContain('no unused recovery codes');

    const withCodes = await post(ua, page, '#recovery-codes-form');
    expect(withCodes.status).toBe(200);
    expect(withCodes.headers.get('cache-control')).toContain('no-store');
    const codes = withCodes
      .$('#recovery-codes code')
      .map((_i, el) => withCodes.$(el).text())
      .get();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const reloaded = expectPage(await ua.follow(accountUrl));
    expect(reloaded.$('#recovery-codes')).toHaveLength(0);
    expect(reloaded.$('#recovery-status').text()).toContain('10 unused recovery codes');

    // Stored sealed: neither the base32 secret nor its bytes are in the row.
    const { rows } = await gh.testDb.db.query<{ secret_sealed: Buffer; key_id: string }>('SELECT secret_sealed, key_id FROM mfa_totp WHERE sub = $1', [sub]);
    expect(rows[0]!.key_id).toMatch(/^[0-9a-f]{16}$/);
    expect(rows[0]!.secret_sealed.toString('latin1')).not.toContain(secret);

    // A new browser: the password, then the code form, then the account page.
    const other = new UserAgent();
    const otherLogin = expectPage(await other.follow(accountUrl));
    const codeForm = expectPage(await other.submit(otherLogin, LOGIN_FORM, credentialsOf(USER)));
    expect(pageKind(codeForm)).toBe('other');
    expect(codeForm.$('form[action$="/mfa"] input[name="code"]')).toHaveLength(1);
    const signedIn = expectPage(await other.submit(codeForm, 'form[action$="/mfa"]', { code: codes[0]! }));
    expect(signedIn.$('h1').text()).toBe('Your account');
    expect(signedIn.$('#recovery-status').text()).toContain('9 unused recovery codes');

    // Removing it takes a code: without one (or with a used one) it stays.
    const refused = await post(other, signedIn, '#totp-remove', { code: codes[0]! });
    expect(refused.status).toBe(400);
    expect(refused.$('#totp-error').text()).toContain('That code is not right, or was already used.');
    expect(refused.$('#totp-status').text()).toContain('On:');
    const removed = await post(other, refused, '#totp-remove', { code: totpCode(secret, 0) });
    expect(removed.url).toBe(`${accountUrl}?done=totp-removed`);
    expect(removed.$('#totp-status').text()).toContain('Off.');
    const events = visibleText(removed);
    for (const text of [
      'Authenticator app set up',
      'New recovery codes created',
      'Signed in with a recovery code (9 codes left)',
      'Authenticator app removed',
      'Wrong second-factor code',
    ]) {
      expect(events).toContain(text);
    }
    expect(gh.rawLogs()).not.toContain(secret);
    for (const code of codes) expect(gh.rawLogs()).not.toContain(code);
  });
});
