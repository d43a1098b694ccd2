import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT, gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { buildUser, startGatehouseWithUsers } from '../support/factories.js';
import { testConfig } from '../support/fixtures.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { launchChromium, type Browser } from '../support/chromium.js';
import { discover, oidc } from '../support/relying_party.js';

// The /device pages in Chromium under the real CSP (#17): the code typed by hand (lower case,
// with its dash), sign-in, the confirmation, consent and the done page; then the link with the
// code in it (verification_uri_complete) and Deny; the lockout page. Each page shot in light and dark, and at 375 px
// (SHOTS_DIR keeps them).

const TV = {
  client_id: 'tv',
  client_name: 'Living Room TV',
  token_endpoint_auth_method: 'none',
  grant_types: [DEVICE_CODE_GRANT],
  scope: 'openid profile email things:read',
};

describe('device sign-in in Chromium', () => {
  let gh: RunningGatehouse;
  let browser: Browser;
  let tv: oidc.Configuration;
  const ada = buildUser({ username: 'ada', name: 'Ada Lovelace' });

  beforeAll(async () => {
    const base = testConfig();
    ({ gh } = await startGatehouseWithUsers([ada], {
      config: gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, TV] }),
      env: { DEVICE_POLL_INTERVAL_SECONDS: '1', DEVICE_USER_CODE_MAX_FAILURES_PER_IP: '3' },
    }));
    tv = await discover(gh.issuer, 'tv');
    browser = await launchChromium('device', process.env.SHOTS_DIR);
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.close();
  });

  async function shots(name: string) {
    const { page } = browser;
    await page.emulateMedia({ colorScheme: 'light' });
    await browser.screenshot(`${name}-light`);
    await page.emulateMedia({ colorScheme: 'dark' });
    await browser.screenshot(`${name}-dark`);
    await page.setViewportSize({ width: 375, height: 740 });
    await browser.screenshot(`${name}-375-dark`);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.emulateMedia({ colorScheme: 'light' });
  }

  it('code typed by hand in lower case → sign in → confirm → consent → done; the device gets tokens; no CSP violation', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile things:read' });
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started);
    const { page } = browser;
    await page.goto(started.verification_uri);
    await shots('device-code');
    await page.getByRole('textbox', { name: 'Code' }).fill('bbbb-bbbb');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('That code is not right. Check the code on your device and try again.');
    await shots('device-code-wrong');

    await page.getByRole('textbox', { name: 'Code' }).fill(started.user_code.toLowerCase());
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Connect Living Room TV?' }).waitFor();
    await shots('device-confirm');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.getByLabel('Username or email').fill(ada.username);
    await page.getByLabel('Password').fill(ada.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow Living Room TV access?' }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    await shots('device-done');

    const tokens = await polling;
    expect(tokens.claims()?.sub).toBeTruthy();
    expect(browser.problems).toEqual([]);
  });

  it('the link with the code (verification_uri_complete) shows it filled in; Deny → not connected; access_denied', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const { page } = browser;
    await page.goto(started.verification_uri_complete!);
    expect(await page.getByRole('textbox', { name: 'Code' }).inputValue()).toBe(started.user_code);
    await shots('device-code-prefilled');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('heading', { name: 'Device not connected' }).waitFor();
    await shots('device-denied');
    const refused = await oidc.pollDeviceAuthorizationGrant(tv, started).catch((error: unknown) => error as { error?: string });
    expect((refused as { error?: string }).error).toBe('access_denied');
    expect(browser.problems).toEqual([]);
  });

  it('too many wrong codes: the 429 page says when to come back', async () => {
    const { page } = browser;
    let status = 0;
    for (let tries = 0; tries < 4 && status !== 429; tries++) {
      await page.goto(`${gh.issuer}/device`);
      await page.getByRole('textbox', { name: 'Code' }).fill('zzzz-zzzz');
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Continue' }).click(),
      ]);
      status = response.status();
    }
    expect(status).toBe(429);
    await page.getByRole('heading', { name: 'Too many wrong codes' }).waitFor();
    await shots('device-locked');
    expect(browser.problems).toEqual([]);
  });
});
