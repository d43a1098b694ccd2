import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUser, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { firstLink, startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';
import { launchChromium, type Browser } from '../support/chromium.js';
import { oidc } from '../support/relying_party.js';
import { RP } from '../support/fixtures.js';

// Forgot password in Chromium (#16): from the login page's link to a new password and back to the
// sign-in, under the real CSP; each page shot in light and dark (SHOTS_DIR keeps them).

describe('forgot password in Chromium', () => {
  let gh: RunningGatehouse;
  let sink: SmtpSink;
  let browser: Browser;
  const ada = buildUser({ username: 'ada', email: 'ada@example.test', name: 'Ada Lovelace' });
  beforeAll(async () => {
    sink = await startSmtpSink();
    ({ gh } = await startGatehouseWithUsers([ada], { env: { SMTP_URL: sink.url } }));
    browser = await launchChromium('password-reset', process.env.SHOTS_DIR);
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.close();
    await sink?.close();
  });

  async function shots(name: string) {
    await browser.page.emulateMedia({ colorScheme: 'light' });
    await browser.screenshot(`${name}-light`);
    await browser.page.emulateMedia({ colorScheme: 'dark' });
    await browser.screenshot(`${name}-dark`);
    await browser.page.emulateMedia({ colorScheme: 'light' });
  }

  it('login → Forgot password? → mail → new password → back to the sign-in, with no CSP violation', async () => {
    const { page } = browser;
    const rp = await rpFor(gh, 'web');
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: `${RP}/callback`,
      scope: 'openid',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await shots('login-forgot-link');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL(/\/forgot-password/);
    await shots('forgot-password');
    await page.getByRole('textbox', { name: 'E-mail address' }).fill('ada@example.test');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
    await shots('forgot-password-sent');

    const link = firstLink(await sink.waitFor('ada@example.test'));
    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await shots('reset-password');
    await page.getByRole('textbox', { name: 'New password' }).fill('password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('common');
    await shots('reset-password-error');
    await page.getByRole('textbox', { name: 'New password' }).fill('ada has a brand new passphrase');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Your password is set' }).waitFor();
    await shots('reset-password-done');
    await page.getByRole('link', { name: 'Continue signing in' }).click();
    await page.getByLabel('Username or email').waitFor();
    expect(browser.problems).toEqual([]);
  });
});
