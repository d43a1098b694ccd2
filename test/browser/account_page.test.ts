import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, API } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';

// /account in a real Chromium with the Content-Security-Policy in force: signing in to an
// application, then opening the account page (which needs no script), seeing that application
// there and taking its access back. A screenshot of the page is left in /tmp/shots.

const SECRET = 'account-browser-secret-0123456789abcdef';
const SHOTS_DIR = '/tmp/shots';

let gh: RunningGatehouse;
let rp: http.Server;
let rpOrigin: string;
let browser: Browser;
let page: Page;
let rpConfig: oidc.Configuration;
let problems: string[] = [];

beforeAll(async () => {
  rp = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>RP</title><h1>Relying party</h1>'));
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'browser-rp',
        client_secret: SECRET,
        client_name: 'Browser RP',
        redirect_uris: [`${rpOrigin}/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email things:read',
      },
    ],
    apis: [{ identifier: API, name: 'Things API', scopes: ['things:read'], access_token_format: 'jwt' }],
  });
  const gatehouse = (async () => {
    gh = await startGatehouse({ config });
    await gh.createUser(ALICE);
    rpConfig = await discover(gh.issuer, 'browser-rp', SECRET);
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('account', SHOTS_DIR), gatehouse]);
  if (launched.status === 'fulfilled') ({ page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
  rp?.closeAllConnections();
  await new Promise<void>((resolve) => (rp ? rp.close(() => resolve()) : resolve()));
});

describe('/account in Chromium', () => {
  it('shows the signed-in user their sessions and applications, and revokes an application', async () => {
    const url = oidc.buildAuthorizationUrl(rpConfig, {
      redirect_uri: `${rpOrigin}/callback`,
      scope: 'openid profile email things:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    });
    await page.goto(url.href);
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.origin === rpOrigin);

    // Already signed in: /account opens without another sign-in.
    await page.goto(`${gh.issuer}/account`);
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    for (const section of ['Profile', 'Where you are signed in', 'Applications you allowed', 'Change password', 'Recent security events']) {
      expect(await page.getByRole('heading', { level: 2, name: section }).count()).toBe(1);
    }
    expect(await page.locator('.badge').textContent()).toBe('this browser');
    expect(await page.locator('#apps').textContent()).toContain('Browser RP');
    expect(await page.locator('#apps').textContent()).toContain('Things API: things:read');
    expect(await page.getByLabel('Current password').count()).toBe(1);
    await browser.screenshot('account');

    await page.getByRole('button', { name: 'Revoke access of Browser RP' }).click();
    await page.getByRole('status').waitFor();
    expect(new URL(page.url()).search).toBe('?done=app-revoked');
    expect(await page.getByRole('status').textContent()).toMatch(/Access removed/);
    expect(await page.locator('#apps').count()).toBe(0);
    await browser.screenshot('account-revoked');
    expect(problems).toEqual([]);
  });
});
