import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { reserveApacheSites, startApache, type ApacheSite, type RunningApache } from '../support/apache_rp.js';
import { eventually } from '../support/eventually.js';
import { ALICE } from '../support/fixtures.js';

// Single sign-on and single sign-out with relying parties we did not write: two Apache httpd
// virtual hosts protected by mod_auth_openidc, driven by a real Chromium. Signing in at one
// lets the user into the other without a prompt; signing out at one (RP-initiated logout with
// id_token_hint) ends the other's session through back-channel logout.

const SHOTS = '/tmp/shots';
const RPS = [
  { name: 'rp1', clientId: 'rp1', clientSecret: 'rp1-secret-0123456789abcdef0123456789' },
  { name: 'rp2', clientId: 'rp2', clientSecret: 'rp2-secret-0123456789abcdef0123456789' },
];

let gh: RunningGatehouse;
let apache: RunningApache;
let rp1: ApacheSite;
let rp2: ApacheSite;
let context: BrowserContext;
let page: Page;
let browser: Browser;
/** CSP violations and script errors Chromium reported */
let problems: string[] = [];
/** every top-level document the browser received: where, and with what status */
const documents: { url: string; status: number }[] = [];

beforeAll(async () => {
  const reserved = await reserveApacheSites(RPS);
  [rp1, rp2] = reserved.sites as [ApacheSite, ApacheSite];
  const config = gatehouseConfigSchema.parse({
    clients: reserved.sites.map((site) => ({
      client_id: site.clientId,
      client_secret: site.clientSecret,
      client_name: `Apache ${site.name}`,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [site.redirectUri],
      post_logout_redirect_uris: [site.signedOutUrl],
      backchannel_logout_uri: site.backchannelLogoutUri,
      grant_types: ['authorization_code'],
      scope: 'openid profile email',
      skip_consent: true,
    })),
  });
  // Chromium starts while Gatehouse does; Apache needs Gatehouse's issuer, so it comes last.
  const gatehouse = (async () => {
    gh = await startGatehouse({ config });
    await gh.createUser(ALICE);
    apache = await startApache({ reserved, issuer: gh.issuer });
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('modauth', SHOTS), gatehouse]);
  if (launched.status === 'fulfilled') ({ context, page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
  page.on('response', (response: Response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) documents.push({ url: response.url(), status: response.status() });
  });
});

afterAll(async () => {
  await browser?.close();
  await apache?.stop();
  await gh?.close();
});

/** a URL without its query's values (codes, tokens, state), for failure reports */
function withoutValues(href: string): string {
  const url = new URL(href);
  const keys = [...url.searchParams.keys()];
  return `${url.origin}${url.pathname}${keys.length > 0 ? `?${keys.join('&')}` : ''}`;
}

let reported = false;
beforeEach(({ onTestFailed }) => {
  onTestFailed(async () => {
    if (reported) return;
    reported = true;
    const apacheLog = apache ? await apache.errorLog() : '(Apache did not start)';
    const warnings = gh ? gh.logs.filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l)) : [];
    process.stderr.write(
      [
        '--- Apache error log ---',
        apacheLog,
        '--- Gatehouse warnings and errors ---',
        ...warnings,
        '--- documents the browser loaded ---',
        ...documents.map((d) => `${d.status} ${withoutValues(d.url)}`),
        '',
      ].join('\n'),
    );
  });
});

const shot = (name: string) => browser.screenshot(`modauth-${name}`);
const onGatehouse = (url: URL) => url.origin === gh.issuer;
const rpCookies = async (site: ApacheSite) => (await context.cookies(site.origin)).filter((c) => c.name === site.sessionCookie);

/** Waits for `url`; if the browser does not get there, says where it stayed. */
async function arriveAt(url: string): Promise<void> {
  try {
    await page.waitForURL(url);
  } catch (error) {
    const heading = await page
      .locator('h1')
      .first()
      .textContent()
      .catch(() => '');
    throw new Error(
      `the browser did not reach ${url}; it stayed on ${page.url()} ("${String(heading)}"). CSP violations and script errors: ${JSON.stringify(problems)}`,
      { cause: error },
    );
  }
}

async function expectLoginForm(): Promise<void> {
  await page.locator('input[name="password"]').waitFor();
  expect(onGatehouse(new URL(page.url()))).toBe(true);
  expect(await page.locator('h1').textContent()).toBe('Sign in');
}

let signedOutAt: number;

describe('single sign-on and sign-out across two mod_auth_openidc relying parties', () => {
  it('signs in at RP1, enters RP2 without a prompt, and signing out at RP1 ends RP2 by back-channel', async () => {
    // RP1's protected page sends the browser to Gatehouse's login form.
    await page.goto(rp1.protectedUrl);
    await expectLoginForm();
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await shot('1-login-for-rp1');
    await page.getByRole('button', { name: 'Sign in' }).click();

    await arriveAt(rp1.protectedUrl);
    expect(await page.locator('h1').textContent()).toBe('rp1 protected page');
    expect(await page.locator('#name').textContent()).toBe(ALICE.name);
    expect(await page.locator('#email').textContent()).toBe(ALICE.email);
    const sub = await page.locator('#sub').textContent();
    expect(sub).toMatch(/\S+/);
    await shot('2-rp1-signed-in');
    expect(await rpCookies(rp1)).toHaveLength(1);

    // RP2: through Gatehouse and back on redirects alone, no page of Gatehouse's is shown.
    const before = documents.length;
    await page.goto(rp2.protectedUrl);
    await arriveAt(rp2.protectedUrl);
    expect(await page.locator('h1').textContent()).toBe('rp2 protected page');
    expect(await page.locator('#sub').textContent()).toBe(sub);
    expect(await page.locator('#name').textContent()).toBe(ALICE.name);
    const viaGatehouse = documents.slice(before).filter((d) => onGatehouse(new URL(d.url)));
    expect(viaGatehouse.length).toBeGreaterThan(0);
    expect(viaGatehouse.filter((d) => d.status < 300 || d.status >= 400)).toEqual([]);
    await shot('3-rp2-single-sign-on');
    expect(await rpCookies(rp2)).toHaveLength(1);

    // Sign out at RP1 with its own link: mod_auth_openidc ends its session and sends the browser
    // to Gatehouse's end-session endpoint with id_token_hint.
    await page.goto(rp1.protectedUrl);
    await page.locator('#sign-out').click();
    // mod_auth_openidc sends the ID token of this very session as id_token_hint, so Gatehouse
    // signs out without asking (its confirmation form submits itself) and returns to RP1.
    await arriveAt(rp1.signedOutUrl);
    signedOutAt = documents.length - 1;
    const gatehousePages = documents.slice(0, signedOutAt).filter((d) => onGatehouse(new URL(d.url)) && d.status === 200);
    expect(gatehousePages.map((d) => new URL(d.url).pathname).at(-1)).toBe('/session/end');
    await shot('5-rp1-signed-out');

    // Gatehouse delivered a logout token to RP2, and RP2's Apache answered it.
    const delivered = await eventually(() => gh.logs.find((l) => l.event === 'backchannel.success' && l.client_id === rp2.clientId), {
      what: 'back-channel logout to rp2',
    });
    expect(delivered.sub).toBe(sub);
    expect(gh.logs.filter((l) => l.event === 'backchannel.error')).toEqual([]);
    expect(await apache.accessLog(rp2)).toContain(`POST /protected/redirect_uri?logout=backchannel HTTP/1.1 200`);

    // RP2's cookie is still in the browser, but the session it named is gone on the server:
    // its protected page sends the browser back to Gatehouse, which asks for the password.
    expect(await rpCookies(rp2)).toHaveLength(1);
    await page.goto(rp2.protectedUrl);
    await expectLoginForm();
    await shot('6-rp2-asks-to-sign-in-again');
    expect(problems).toEqual([]);
  });

  it("clears RP1's own session cookie and returns to its signed-out page without an error", async () => {
    expect(await rpCookies(rp1)).toEqual([]);

    // The way out: RP1's logout URL, Gatehouse's end-session endpoint, RP1's signed-out page.
    const way = documents.slice(0, signedOutAt + 1);
    const logoutAt = way.findLastIndex((d) => d.url === rp1.logoutUrl);
    expect(logoutAt).toBeGreaterThanOrEqual(0);
    const out = way.slice(logoutAt);
    expect(out.some((d) => onGatehouse(new URL(d.url)) && new URL(d.url).pathname.startsWith('/session/end'))).toBe(true);
    expect(out.filter((d) => d.status >= 400).map((d) => withoutValues(d.url))).toEqual([]);
    expect(out.at(-1)).toEqual({ url: rp1.signedOutUrl, status: 200 });
    expect(gh.logs.filter((l) => l.event === 'end_session.error')).toEqual([]);

    // Gatehouse's session ended too: RP1's protected page asks for the password again.
    await page.goto(rp1.protectedUrl);
    await expectLoginForm();
    await shot('7-rp1-asks-to-sign-in-again');
    expect(problems).toEqual([]);
  });
});
