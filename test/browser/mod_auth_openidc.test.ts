import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { reserveApacheSites, startApache, type ApacheSite, type RunningApache } from '../support/apache_rp.js';
import { eventually } from '../support/eventually.js';
import { ALICE } from '../support/fixtures.js';

// Single sign-on and single sign-out with relying parties we did not write: two Apache httpd
// virtual hosts protected by mod_auth_openidc, driven by a real Chromium. Signing in at one
// lets the user into the other without a prompt; signing out at one (RP-initiated logout with
// id_token_hint) ends the other's session through back-channel logout.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
let profileDir: string;
/** CSP violations and script errors Chromium reported */
const problems: string[] = [];
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
  profileDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-chromium-profile-'));
  await mkdir(SHOTS, { recursive: true });
  const browser = chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const [launched, started] = await Promise.allSettled([browser, gatehouse]);
  if (launched.status === 'fulfilled') context = launched.value;
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;

  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => {
      console.error('Content Security Policy violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
    });`,
  });
  // Waits are for pages that should appear at once; the margin is for a loaded CI machine.
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (/content security policy/i.test(msg.text())) problems.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: script error: ${error.message}`));
  page.on('response', (response: Response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) documents.push({ url: response.url(), status: response.status() });
  });
});

afterAll(async () => {
  await context?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
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

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `modauth-${name}.png`), fullPage: true });
const onGatehouse = (url: URL) => url.origin === gh.issuer;
const rpCookies = async (site: ApacheSite) => (await context.cookies(site.origin)).filter((c) => c.name === site.sessionCookie);

/** Waits for `url`; if the browser does not get there, says where it stayed. */
async function arriveAt(url: string): Promise<void> {
  try {
    await page.waitForURL(url);
  } catch (error) {
    const heading = await page.locator('h1').first().textContent().catch(() => '');
    throw new Error(`the browser did not reach ${url}; it stayed on ${page.url()} ("${heading}"). CSP violations and script errors: ${JSON.stringify(problems)}`, { cause: error });
  }
}

async function expectLoginForm(): Promise<void> {
  await page.locator('input[name="password"]').waitFor();
  expect(onGatehouse(new URL(page.url()))).toBe(true);
  expect(await page.locator('h1').textContent()).toBe('Sign in');
}

/** Whether Gatehouse asked "Sign out?" (it is to skip that for a valid id_token_hint). */
let confirmation: 'shown and clicked' | 'skipped' | undefined;
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
    // Gatehouse may ask "Sign out?" or, trusting the id_token_hint, go straight on; a page that
    // submits itself is neither, so only the question with its button counts as asking.
    const signOut = page.getByRole('button', { name: 'Sign out' });
    const question = page.getByRole('heading', { name: 'Sign out?' });
    confirmation = await eventually(
      async () => {
        if (page.url() === rp1.signedOutUrl) return 'skipped' as const;
        if (onGatehouse(new URL(page.url())) && (await question.isVisible()) && (await signOut.isVisible())) return 'shown and clicked' as const;
        return undefined;
      },
      { timeoutMs: 15_000, what: `Gatehouse's sign-out confirmation or ${rp1.signedOutUrl}` },
    );
    if (confirmation === 'shown and clicked') {
      await shot('4-sign-out-confirmation');
      await signOut.click();
    }
    await arriveAt(rp1.signedOutUrl);
    signedOutAt = documents.length - 1;
    process.stdout.write(`mod_auth_openidc sign-out: Gatehouse's confirmation page was ${confirmation}\n`);
    await shot('5-rp1-signed-out');

    // Gatehouse delivered a logout token to RP2, and RP2's Apache answered it.
    const delivered = await eventually(() => gh.logs.find((l) => l.event === 'backchannel.success' && l.client_id === rp2.clientId), { what: 'back-channel logout to rp2' });
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
    expect(confirmation).toBeDefined();
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
