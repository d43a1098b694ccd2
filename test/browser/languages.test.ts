import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from '../support/chromium.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';

// The login and consent pages in German and French in a real Chromium on a phone-sized screen
// (375 px wide): the page says its language, nothing runs wider than the screen (German words
// are long), and no script or CSP error. Screenshots are kept for a person to look at
// (I18N_SHOTS_DIR, else a temporary folder named in the output).

let gh: RunningGatehouse;
let web: oidc.Configuration;
let browser: Browser;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  web = await rpFor(gh, 'web');
  browser = await launchChromium('languages', process.env.I18N_SHOTS_DIR);
  await browser.page.setViewportSize({ width: 375, height: 812 });
});
afterAll(async () => {
  await browser?.close();
  await gh?.close();
});

/** How far the page runs past the screen's right edge, in CSS pixels (0: it fits). */
const overflow = () => browser.page.locator('html').evaluate((html: { scrollWidth: number; clientWidth: number }) => html.scrollWidth - html.clientWidth);

describe.each([
  { lang: 'de', signIn: 'Anmelden', allow: 'Erlauben' },
  { lang: 'fr', signIn: 'Se connecter', allow: 'Autoriser' },
])('login and consent in $lang at 375 px', ({ lang, signIn, allow }) => {
  it('fit the screen and speak the language', async () => {
    await browser.context.clearCookies();
    const url = oidc.buildAuthorizationUrl(web, {
      redirect_uri: `${RP}/callback`,
      scope: 'openid profile email offline_access things:read',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
      ui_locales: lang,
    });
    const { page } = browser;
    await page.goto(url.href);
    expect(await page.getAttribute('html', 'lang')).toBe(lang);
    await page.locator('#login').fill(ALICE.username);
    await page.locator('#password').fill(ALICE.password);
    await browser.screenshot(`${lang}-login`);
    expect(await overflow()).toBe(0);

    await page.getByRole('button', { name: signIn, exact: true }).click();
    await page.getByRole('button', { name: allow, exact: true }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe(lang);
    await browser.screenshot(`${lang}-consent`);
    expect(await overflow()).toBe(0);
    expect(browser.problems).toEqual([]);
  });
});
