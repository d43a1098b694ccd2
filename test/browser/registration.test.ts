import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { RP, testConfig } from '../support/fixtures.js';
import { rpFor } from '../support/factories.js';
import { oidc } from '../support/relying_party.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';

// Registration in Chromium (strict CSP, no script needed): the login page's "Create account",
// the form with a field error, "Check your mail", the mailed link's confirm button, back at the
// application; then /account's profile section. Screenshots, light and dark, in SHOTS_DIR.

const SHOTS_DIR = process.env.SHOTS_DIR ?? '/tmp/shots';
const FP_CALLBACK = `${RP}/fp/callback`;

let sink: SmtpSink;
let gh: RunningGatehouse;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  sink = await startSmtpSink();
  const config = testConfig({ self_service: { registration: 'open', password_reset: true, email_verification: true, allowed_email_domains: [] } });
  const [launched, started] = await Promise.allSettled([launchChromium('registration', SHOTS_DIR), startGatehouse({ config, env: { SMTP_URL: sink.url } })]);
  if (launched.status === 'fulfilled') ({ page } = browser = launched.value);
  if (started.status === 'fulfilled') gh = started.value;
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
  // The application's redirect URI: answered here, nothing listens there.
  await page.route(`${RP}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the application' }));
});
afterAll(async () => {
  await browser?.close();
  await gh?.close();
  await sink?.close();
});

async function shots(name: string) {
  await page.emulateMedia({ colorScheme: 'light' });
  await browser.screenshot(`${name}-light`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await browser.screenshot(`${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('registration in Chromium', () => {
  it('registers, verifies the address by the mailed link and lands at the application; /account shows the profile form', async () => {
    const rp = await rpFor(gh, 'first-party');
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: FP_CALLBACK,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    });
    await page.goto(url.href);
    await page.getByRole('link', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Create account' }).waitFor();
    await shots('registration');

    await page.getByLabel('Username').fill('rosa');
    await page.getByLabel('Email').fill('rosa@example.test');
    await page.getByLabel('Your name').fill('Rosa Ruiz');
    await page.getByLabel('Password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#password-error').waitFor();
    await shots('registration-error');

    await page.getByLabel('Password').fill('rosa swims across the bay');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Check your mail' }).waitFor();

    const link = /https?:\/\/\S+/.exec((await sink.waitFor('rosa@example.test')).text)![0];
    await page.goto(link);
    await page.getByRole('button', { name: 'Confirm my address' }).click();
    await page.waitForURL((u) => u.href.startsWith(FP_CALLBACK));

    await page.goto(`${gh.issuer}/account`);
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.getByLabel('Full name').inputValue()).toBe('Rosa Ruiz');
    await page.getByLabel('Given name').fill('Rosa');
    await page.getByLabel('Family name').fill('Ruiz');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').waitFor();
    await shots('account-profile');
    expect(browser.problems).toEqual([]);
  });
});
