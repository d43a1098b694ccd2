import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { gatehouseConfigSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { launchChromium, type Browser } from './chromium.js';
import { startGatehouse, type RunningGatehouse } from './start_gatehouse.js';
import { ALICE, API, BOB, FIXED_PKCE, RP, SECRETS } from './fixtures.js';
import { firstLink, startSmtpSink, type SmtpSink } from './smtp_sink.js';
import { startOidcUpstream, UPSTREAM_SECRET, type OidcUpstream } from './upstreams.js';
import { enrolTotp } from './mfa.js';
import { ALLOW_FORM, CODE_FORM } from './device_pages.js';
import { DEVICE_CODE_GRANT } from '../../src/config/gatehouse_config.js';

// Every hosted page, reached in a real Chromium the way a person reaches it, in ONE table
// (PAGES): the accessibility test runs axe-core on each, the branding test checks each shows
// the operator's name, logo and colour. A page added later is one more line here.
//
// One server, one SMTP sink, one upstream identity provider and one browser for the whole tour;
// the pages are visited in table order and each opener leaves the browser on its page.

export const MARA = { username: 'mara', email: 'mara@example.test', name: 'Mara Factor', password: 'two factors are better than one' };
const NEWCOMER = { username: 'nina', email: 'nina@example.test', password: 'a brand new long passphrase' };
/** An application with front-channel logout, on a name the browser answers itself (page.route, for its logout frames): no server, no DNS. */
const FRONTCHANNEL_APP = 'http://frontchannel.example.test';

export interface Tour {
  gh: RunningGatehouse;
  browser: Browser;
  page: Page;
  sink: SmtpSink;
  upstream: OidcUpstream;
  close(): Promise<void>;
}

/** The suite's clients plus one that requires a second factor, registration open, one upstream. */
function tourConfig(upstreamIssuer: string, options: TourOptions): GatehouseConfig {
  return gatehouseConfigSchema.parse({
    ...(options.branding ? { branding: options.branding } : {}),
    self_service: { registration: 'open', password_reset: true, email_verification: true },
    clients: [
      {
        client_id: 'web',
        client_secret: SECRETS.web,
        client_name: 'Web App',
        client_uri: 'http://127.0.0.1:9/',
        ...(options.webLogoUri ? { logo_uri: options.webLogoUri } : {}),
        redirect_uris: [`${RP}/callback`],
        post_logout_redirect_uris: [`${RP}/signed-out`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access things:read',
      },
      {
        client_id: 'fc',
        client_secret: SECRETS.web,
        client_name: 'Front Desk',
        redirect_uris: [`${FRONTCHANNEL_APP}/callback`],
        frontchannel_logout_uri: `${FRONTCHANNEL_APP}/logout`,
        scope: 'openid profile email',
        skip_consent: true,
      },
      {
        client_id: 'secure',
        client_secret: SECRETS.firstParty,
        client_name: 'Payroll',
        redirect_uris: [`${RP}/secure/callback`],
        scope: 'openid profile email',
        skip_consent: true,
        require_mfa: true,
      },
      {
        client_id: 'tv',
        client_name: 'Living Room TV',
        token_endpoint_auth_method: 'none',
        grant_types: [DEVICE_CODE_GRANT],
        scope: 'openid profile',
        skip_consent: true,
      },
    ],
    apis: [{ identifier: API, name: 'Things API', scopes: ['things:read'], access_token_format: 'jwt' }],
    upstreams: [{ id: 'corp', name: 'Corp SSO', issuer: upstreamIssuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET }],
  });
}

export interface TourOptions {
  /** the config's `branding` section */
  branding?: GatehouseConfig['branding'];
  /** the `web` client's logo_uri (shown on its consent page) */
  webLogoUri?: string;
  /** where screenshots go */
  shotsDir?: string;
}

export async function startTour(name: string, options: TourOptions = {}): Promise<Tour> {
  const [sink, upstream] = await Promise.all([startSmtpSink(), startOidcUpstream()]);
  // The upstream knows Alice's address: Gatehouse then asks her to link with her password.
  upstream.signInAs = { sub: 'corp-alice', email: ALICE.email, email_verified: true, name: 'Alice at Corp', preferred_username: 'alice.corp' };
  const started = (async () => {
    // Three wrong device codes lock the address: the last page of the tour.
    const gh = await startGatehouse({ config: tourConfig(upstream.issuer, options), env: { SMTP_URL: sink.url, DEVICE_USER_CODE_MAX_FAILURES_PER_IP: '3' } });
    upstream.serve(gh.issuer, 'corp');
    await gh.createUser(ALICE);
    await gh.createUser(BOB);
    const mara = await gh.createUser(MARA);
    await enrolTotp(gh, mara.sub);
    return gh;
  })();
  const [launched, ready] = await Promise.allSettled([launchChromium(name, options.shotsDir), started]);
  const close = async () => {
    if (launched.status === 'fulfilled') await launched.value.close();
    if (ready.status === 'fulfilled') await ready.value.close();
    await upstream.close();
    await sink.close();
  };
  if (launched.status === 'rejected' || ready.status === 'rejected') {
    await close();
    throw launched.status === 'rejected' ? launched.reason : (ready as PromiseRejectedResult).reason;
  }
  const browser = launched.value;
  // The applications' addresses: answered here, nothing listens there.
  await browser.page.route(`${FRONTCHANNEL_APP}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Front Desk</title><h1>Front Desk</h1>' }),
  );
  await browser.page.route(`${RP}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>App</title><h1>Back at the application</h1>' }),
  );
  return { gh: ready.value, browser, page: browser.page, sink, upstream, close };
}

/** An authorization request of `clientId`, always asking for a fresh sign-in. */
export function authorizationUrl(gh: RunningGatehouse, clientId: 'web' | 'secure' | 'fc', prompt = 'login'): string {
  const redirect = { web: `${RP}/callback`, secure: `${RP}/secure/callback`, fc: `${FRONTCHANNEL_APP}/callback` }[clientId];
  const params = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirect,
    scope: 'openid profile email',
    state: 'tour',
    ...(prompt ? { prompt } : {}),
    ...FIXED_PKCE,
  });
  return `${gh.issuer}/auth?${params.toString()}`;
}

async function goto(page: Page, url: string) {
  await page.goto(url);
}

async function submit(page: Page, formSelector: string) {
  await Promise.all([page.waitForEvent('load'), page.locator(`${formSelector} button[type="submit"]`).first().click()]);
}

async function signIn(page: Page, login: string, password: string) {
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', password);
  await submit(page, 'form[action$="/login"]');
}

/** Signed in as Alice (at /account, signing in when the session is gone). */
async function accountAsAlice(tour: Tour) {
  const { page, gh } = tour;
  await page.goto(`${gh.issuer}/account`);
  if (await page.locator('input[name="password"]').count()) await signIn(page, ALICE.username, ALICE.password);
  await page.waitForURL(`${gh.issuer}/account`);
}

export interface HostedPage {
  name: string;
  /** leaves the tour's browser on this page */
  open(tour: Tour): Promise<void>;
}

export const PAGES: HostedPage[] = [
  { name: 'home', open: ({ page, gh }) => goto(page, `${gh.issuer}/`) },
  { name: 'login', open: ({ page, gh }) => goto(page, authorizationUrl(gh, 'web')) },
  {
    name: 'login error',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'web'));
      await signIn(page, ALICE.username, 'not the password');
    },
  },
  {
    name: 'consent',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'web'));
      await signIn(page, ALICE.username, ALICE.password);
      await page.locator('form[action$="/confirm"]').waitFor();
    },
  },
  {
    name: 'mfa code',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'secure'));
      await signIn(page, MARA.username, MARA.password);
      await page.locator('form[action$="/mfa"]').waitFor();
    },
  },
  {
    name: 'mfa enrol',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'secure'));
      await signIn(page, BOB.username, BOB.password);
      await page.locator('form[action$="/mfa/enrol"]').waitFor();
    },
  },
  {
    name: 'upstream link',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'web'));
      await submit(page, 'form[action*="/upstream/corp/start"]');
      await page.locator('form[action$="/upstream/link"]').waitFor();
    },
  },
  {
    name: 'register',
    open: async ({ page, gh }) => {
      await page.goto(authorizationUrl(gh, 'web'));
      await Promise.all([page.waitForEvent('load'), page.click('#create-account')]);
    },
  },
  {
    name: 'register error',
    open: async ({ page }) => {
      // The register page is open from the line above: a password that is too short.
      await page.fill('input[name="email"]', NEWCOMER.email);
      await page.fill('input[name="password"]', 'short');
      await submit(page, 'form[action$="/register"]');
    },
  },
  {
    name: 'check mail',
    open: async ({ page }) => {
      await page.fill('input[name="username"]', NEWCOMER.username);
      await page.fill('input[name="email"]', NEWCOMER.email);
      await page.fill('input[name="name"]', 'Nina Newcomer');
      await page.fill('input[name="password"]', NEWCOMER.password);
      await submit(page, 'form[action$="/register"]');
    },
  },
  {
    name: 'verify email',
    open: async ({ page, sink }) => {
      await page.goto(firstLink(await sink.waitFor(NEWCOMER.email)));
    },
  },
  {
    name: 'forgot password',
    open: ({ page, gh }) => goto(page, `${gh.issuer}/forgot-password`),
  },
  {
    name: 'forgot password sent',
    open: async ({ page }) => {
      await page.fill('input[name="email"]', BOB.email);
      await submit(page, 'form[action^="/forgot-password"]');
    },
  },
  {
    name: 'set password',
    open: async ({ page, sink }) => {
      await page.goto(firstLink(await sink.waitFor(BOB.email)));
      await page.locator('input[type="password"]').first().waitFor();
    },
  },
  {
    name: 'error page',
    open: ({ page, gh }) => goto(page, `${gh.issuer}/auth?client_id=nobody&response_type=code&scope=openid`),
  },
  { name: 'account', open: accountAsAlice },
  {
    name: 'account authenticator set-up',
    open: async (tour) => {
      await accountAsAlice(tour);
      await submit(tour.page, 'form[action="/account/mfa/totp/start"]');
    },
  },
  {
    name: 'account e-mail change confirmation',
    open: async (tour) => {
      await accountAsAlice(tour);
      await tour.page.fill('form[action="/account/email"] input[name="email"]', 'alice.new@example.test');
      await submit(tour.page, 'form[action="/account/email"]');
      await tour.page.goto(firstLink(await tour.sink.waitFor('alice.new@example.test')));
    },
  },
  {
    name: 'logout confirmation',
    open: async (tour) => {
      await accountAsAlice(tour);
      await tour.page.goto(`${tour.gh.issuer}/session/end`);
      await tour.page.locator('form button[name="logout"]').waitFor();
    },
  },
  {
    name: 'logged out',
    open: async ({ page }) => {
      await submit(page, 'form:has(button[name="logout"])');
    },
  },
  {
    name: 'front-channel sign-out',
    open: async (tour) => {
      const { page, gh } = tour;
      await accountAsAlice(tour);
      // Signed in to Front Desk: the redirect back to it is proof enough (the browser's routes do
      // not answer a redirect's target, so that navigation itself fails).
      const back = page.waitForRequest((request) => request.url().startsWith(`${FRONTCHANNEL_APP}/callback?code=`));
      await page.goto(authorizationUrl(gh, 'fc', '')).catch(() => undefined);
      await back;
      await page.waitForURL((url) => url.protocol === 'chrome-error:');
      await page.goto(`${gh.issuer}/session/end`);
      // Without its script the page stays (the no-JavaScript path: a timed refresh onward, 3 s).
      await page.route('**/static/frontchannel_logout.js', (route) => route.abort());
      await submit(page, 'form:has(button[name="logout"])');
      await page.locator('#continue').waitFor();
      // No refresh onward while axe looks: the <noscript> refresh applies only with JavaScript off.
      await page.unroute('**/static/frontchannel_logout.js');
    },
  },
  {
    name: 'account signed out',
    open: async (tour) => {
      await accountAsAlice(tour);
      await submit(tour.page, 'form[action="/account/sign-out-everywhere"]');
    },
  },
  // The device flow's pages (RFC 8628): a fresh device authorization of the `tv` client each time.
  { name: 'device code', open: ({ page, gh }) => goto(page, `${gh.issuer}/device`) },
  {
    name: 'device code error',
    open: async ({ page, gh }) => {
      await page.goto(`${gh.issuer}/device`);
      await enterDeviceCode(page, 'BBBB-BBBB');
      await page.getByRole('alert').waitFor();
    },
  },
  {
    name: 'device confirm',
    open: async ({ page, gh }) => {
      await page.goto((await startDeviceAuthorization(gh)).verification_uri_complete);
      await submit(page, CODE_FORM);
      await page.locator(ALLOW_FORM).waitFor();
    },
  },
  {
    name: 'device done',
    open: async ({ page, gh }) => {
      await page.goto((await startDeviceAuthorization(gh)).verification_uri_complete);
      await submit(page, CODE_FORM);
      await submit(page, ALLOW_FORM);
      if (await page.locator('input[name="password"]').count()) await signIn(page, ALICE.username, ALICE.password);
      await page.locator('main h1').waitFor();
      expect(await page.locator('input[name="user_code"]').count()).toBe(0);
    },
  },
  {
    name: 'device locked',
    open: async ({ page, gh }) => {
      for (const code of ['CCCC-CCCC', 'DDDD-DDDD']) {
        await page.goto(`${gh.issuer}/device`);
        await enterDeviceCode(page, code);
      }
      await page.goto(`${gh.issuer}/device`);
      await enterDeviceCode(page, 'FFFF-FFFF');
      expect(await page.title()).toMatch(/too many/i);
    },
  },
];

async function startDeviceAuthorization(gh: RunningGatehouse): Promise<{ verification_uri_complete: string }> {
  const res = await fetch(`${gh.issuer}/device/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'tv', scope: 'openid profile' }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { verification_uri_complete: string };
}

async function enterDeviceCode(page: Page, code: string) {
  await page.fill('input[name="user_code"]', code);
  await submit(page, CODE_FORM);
}
