import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser } from '../support/factories.js';
import { awayFromStepEnd, totpCode } from '../support/mfa.js';

// Two-step verification in a real Chromium with Gatehouse's CSP in force: set up an
// authenticator app on /account (the QR code is a data: image the CSP allows), then sign in
// again with the password and a code. Screenshots of the set-up and of the code form, in light
// and dark colour schemes, are left in SHOTS_DIR (default /tmp/shots) for a person to look at.

const SHOTS_DIR = process.env.SHOTS_DIR ?? '/tmp/shots';
const USER = buildUser({ username: 'dana', name: 'Dana Scully' });

let gh: RunningGatehouse;
let browser: Browser;
let page: Page;
let problems: string[];

beforeAll(async () => {
  const gatehouse = (async () => {
    gh = await startGatehouse();
    await gh.createUser(USER);
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('second-factors', SHOTS_DIR), gatehouse]);
  if (launched.status === 'fulfilled') ({ page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
});

async function shoot(name: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await browser.screenshot(`${name}-${colorScheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('two-step verification in Chromium', () => {
  it('sets up an authenticator app on /account, then signs in with the password and a code', async () => {
    await page.goto(`${gh.issuer}/account`);
    await page.fill('input[name="login"]', USER.username);
    await page.fill('input[name="password"]', USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.getByRole('heading', { level: 2, name: 'Two-step verification' }).count()).toBe(1);

    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    // The QR code is inline SVG (img-src allows no data: images): it really drew its modules.
    expect(await qr.locator('svg path').count()).toBeGreaterThan(0);
    expect((await qr.locator('svg').boundingBox())?.width).toBeGreaterThanOrEqual(200);
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    await page.locator('#totp-confirm').scrollIntoViewIfNeeded();
    await shoot('mfa-account-setup');
    // The previous step's code: typed, sent and checked before this step ends.
    await awayFromStepEnd(10_000);
    await page.getByLabel('Code from your app').fill(totpCode(secret, -1));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('status').waitFor();
    expect(new URL(page.url()).search).toBe('?done=totp-enrolled');

    // A fresh sign-in: password, then the code form.
    await browser.context.clearCookies();
    await page.goto(`${gh.issuer}/account`);
    await page.fill('input[name="login"]', USER.username);
    await page.fill('input[name="password"]', USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Two-step verification' }).waitFor();
    await shoot('mfa-code-form');
    await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, 0));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.locator('#totp-status').textContent()).toContain('On:');
    expect(problems).toEqual([]);
  });
});
