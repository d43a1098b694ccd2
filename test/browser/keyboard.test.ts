import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, FIXED_PKCE } from '../support/fixtures.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';

// Sign-in, consent and sign-out with the keyboard alone (Tab, Shift+Tab, Enter, Space and
// typing) in Chromium: every control is reached in order, each focused control shows a visible
// outline (WCAG 2.4.7 / 2.4.11), and no step needs a mouse.

let gh: RunningGatehouse;
let browser: Browser;
let page: Page;
let rp: http.Server;
let rpOrigin: string;

beforeAll(async () => {
  // An application that really answers, so the browser lands somewhere after consent.
  rp = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>App</title><h1>Back at the application</h1>'),
  );
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'kbd',
        client_secret: 'keyboard-client-secret-0123456789abcdef',
        client_name: 'Keyboard App',
        redirect_uris: [`${rpOrigin}/callback`],
        post_logout_redirect_uris: [`${rpOrigin}/signed-out`],
        scope: 'openid profile email',
      },
    ],
  });
  const [launched, started] = await Promise.allSettled([
    launchChromium('keyboard', process.env.SHOTS_DIR ?? '/tmp/shots/keyboard'),
    startGatehouse({ config }),
  ]);
  if (launched.status === 'fulfilled') ({ page } = browser = launched.value);
  if (started.status === 'fulfilled') gh = started.value;
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
  await gh.createUser(ALICE);
});
afterAll(async () => {
  await browser?.close();
  await gh?.close();
  rp?.closeAllConnections();
  rp?.close();
});

const authorizationUrl = () =>
  `${gh.issuer}/auth?${new URLSearchParams({ client_id: 'kbd', response_type: 'code', redirect_uri: `${rpOrigin}/callback`, scope: 'openid profile', state: 'kbd', ...FIXED_PKCE }).toString()}`;

interface Focused {
  description: string;
  /** the outline Chromium draws around it, e.g. "3px solid rgb(31, 95, 191)" */
  outline: string;
}

// Run in the page (the tests have no DOM types): what has focus, and its outline.
const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { description: 'body', outline: 'none' };
  const style = getComputedStyle(el);
  const name = el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.getAttribute('name') || '';
  return {
    description: el.tagName.toLowerCase() + (el.type ? '[' + el.type + ']' : '') + ' ' + name.trim().replace(/\\s+/g, ' '),
    outline: style.outlineStyle === 'none' ? 'none' : style.outlineWidth + ' ' + style.outlineStyle + ' ' + style.outlineColor,
  };
})()`;
const focused = () => page.evaluate<Focused>(FOCUSED);

/** Presses Tab until the focused control's description matches; every control passed on the way must show an outline. */
async function tabTo(target: RegExp, maxPresses = 12): Promise<Focused> {
  for (let i = 0; i < maxPresses; i++) {
    const now = await focused();
    if (target.test(now.description)) return now;
    await page.keyboard.press('Tab');
    const next = await focused();
    expect(next.outline, `focus ring on ${next.description}`).toMatch(/^[3-9]px solid rgb/);
  }
  throw new Error(`Tab never reached ${String(target)} (stopped at ${(await focused()).description})`);
}

describe('keyboard only', () => {
  it('signs in, allows the application, and signs out with Tab and Enter', async () => {
    await page.goto(authorizationUrl());
    // The username field has focus on arrival.
    expect((await focused()).description).toMatch(/^input\[text\] Username or email/);
    await page.keyboard.type(ALICE.username);
    await tabTo(/^input\[password\]/);
    await page.keyboard.type(ALICE.password);
    await tabTo(/^button\[submit\] Sign in$/);
    await browser.screenshot('keyboard-sign-in-button');
    await page.keyboard.press('Enter');

    // Consent: "Allow" has focus; Enter allows.
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect((await focused()).description).toMatch(/^button\[submit\] Allow$/);
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.origin === rpOrigin);
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();

    // Sign-out: the confirmation's button has focus; Enter signs out.
    await page.goto(`${gh.issuer}/session/end`);
    expect((await focused()).description).toMatch(/^button\[submit\] Sign out$/);
    await browser.screenshot('keyboard-sign-out');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'You are signed out' }).waitFor();
    expect(browser.problems).toEqual([]);
  });

  it('shows the password with the "Show password" toggle (aria-pressed), and without the script there is no toggle', async () => {
    await page.goto(authorizationUrl());
    const toggle = page.locator('button[data-show-password]');
    await page.keyboard.type(ALICE.username);
    await tabTo(/^input\[password\]/);
    await page.keyboard.type('secret words');
    await tabTo(/^button\[button\] Show password$/);
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    await page.keyboard.press('Space');
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#password').getAttribute('type')).toBe('text');
    await browser.screenshot('keyboard-password-shown');
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    expect(await page.locator('#password').getAttribute('type')).toBe('password');

    // The script never arrives (JavaScript off, or blocked): the button stays hidden, the field a password field.
    await page.route('**/static/show_password.js', (route) => route.abort());
    await page.goto(authorizationUrl());
    expect(await toggle.isHidden()).toBe(true);
    expect(await page.locator('#password').getAttribute('type')).toBe('password');
    await page.unroute('**/static/show_password.js');
  });
});
