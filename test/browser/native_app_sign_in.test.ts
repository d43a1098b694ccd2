import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';

// A native app's sign-in in a real Chromium, the Content-Security-Policy in force: the system
// browser goes through login and consent and lands on the app's loopback listener, on a port
// picked at sign-in. Chromium applies `form-action` to the whole redirect chain after a form
// post, so the policy must allow any port of the loopback addresses the app registered.
// Screenshots are left in /tmp/shots.

const SHOTS_DIR = '/tmp/shots';

let gh: RunningGatehouse;
let browser: Browser;
let page: Page;
let rp: oidc.Configuration;
let problems: string[] = [];

beforeAll(async () => {
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'desktop',
        client_name: 'Example Desktop App',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback', 'com.example.desktop:/callback'],
        scope: 'openid profile',
      },
    ],
  });
  const gatehouse = (async () => {
    gh = await startGatehouse({ config });
    await gh.createUser(ALICE);
    rp = await discover(gh.issuer, 'desktop');
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('native-app', SHOTS_DIR), gatehouse]);
  if (launched.status === 'fulfilled') ({ page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
});

describe('a desktop app signing in through the system browser', () => {
  it('lands on its loopback listener with a code, which it exchanges', async () => {
    let received: URL | undefined;
    const listener = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      // The browser asks for /favicon.ico too.
      if (url.pathname === '/callback') received = url;
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!DOCTYPE html><title>Example Desktop App</title><h1>Signed in</h1><p>You may close this window.</p>');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const redirectUri = `http://127.0.0.1:${String((listener.address() as AddressInfo).port)}/callback`;
    try {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(rp, {
        redirect_uri: redirectUri,
        scope: 'openid profile',
        state,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      await page.goto(url.href);
      await page.fill('input[name="login"]', ALICE.username);
      await page.fill('input[name="password"]', ALICE.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      expect(await page.textContent('body')).toContain('Example Desktop App');
      await browser.screenshot('native-app-consent');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      await browser.screenshot('native-app-loopback');

      expect(new URL(page.url()).origin).toBe(new URL(redirectUri).origin);
      const callback = new URL(redirectUri);
      callback.search = received!.search;
      const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()?.aud).toBe('desktop');
      expect(problems).toEqual([]);
    } finally {
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});
