import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { discover, oidc } from '../support/relying_party.js';
import { UPSTREAM_SECRET, startOidcUpstream, type OidcUpstream } from '../support/upstreams.js';

// A real Chromium, with Gatehouse's Content-Security-Policy in force, clicks "Sign in with Corp
// SSO" on the login page, signs in on the upstream's own page (a bare oidc-provider), and comes
// back through Gatehouse to a relying party that really listens, with a code whose ID token says
// `idp`. Screenshots of the login page (light and dark) go to SHOTS_DIR or a temporary folder.

const SECRET = 'browser-rp-secret-0123456789abcdef0123';

let gh: RunningGatehouse;
let corp: OidcUpstream;
let rpServer: http.Server;
let rpOrigin: string;
let browser: Browser;
let page: Page;
let rpConfig: oidc.Configuration;

beforeAll(async () => {
  rpServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!DOCTYPE html><title>Relying party</title><h1>Relying party callback</h1>');
  });
  await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rpServer.address() as AddressInfo).port}`;
  corp = await startOidcUpstream();
  corp.autoLogin = false;
  corp.signInAs = { sub: 'browser-user', email: 'erin@corp.test', email_verified: true, name: 'Erin Browser', preferred_username: 'erin' };
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'browser-rp',
        client_secret: SECRET,
        client_name: 'Browser RP',
        redirect_uris: [`${rpOrigin}/callback`],
        scope: 'openid profile email',
        skip_consent: true,
      },
    ],
    upstreams: [{ id: 'corp', name: 'Corp SSO', issuer: corp.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET }],
  });
  const started = (async () => {
    gh = await startGatehouse({ config });
    corp.serve(gh.issuer, 'corp');
    rpConfig = await discover(gh.issuer, 'browser-rp', SECRET);
  })();
  const [launched, ready] = await Promise.allSettled([launchChromium('upstream-browser-test', process.env.SHOTS_DIR), started]);
  if (launched.status === 'fulfilled') ({ page } = browser = launched.value);
  for (const result of [launched, ready]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
  await corp?.close();
  if (rpServer) {
    rpServer.closeAllConnections();
    await new Promise<void>((resolve) => rpServer.close(() => resolve()));
  }
});

describe('sign-in through an upstream in Chromium', () => {
  it('clicks the upstream button, signs in on the upstream page and comes back with idp', async () => {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rpConfig, {
      redirect_uri: `${rpOrigin}/callback`,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    await page.goto(url.href);
    const upstreamButton = page.getByRole('button', { name: 'Sign in with Corp SSO' });
    await upstreamButton.waitFor();
    await page.emulateMedia({ colorScheme: 'light' });
    await browser.screenshot('login-upstream-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await browser.screenshot('login-upstream-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    await upstreamButton.click();
    await page.waitForURL((u) => u.origin === corp.issuer);
    await page.getByRole('button', { name: 'Continue as Erin Browser' }).click();
    await page.waitForURL((u) => u.origin === rpOrigin && u.pathname === '/callback');

    const tokens = await oidc.authorizationCodeGrant(rpConfig, new URL(page.url()), {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: gh.issuer, idp: 'corp' });
    const { rows } = await gh.testDb.db.query(`SELECT username, email FROM users WHERE sub = $1`, [claims.sub]);
    expect(rows).toEqual([{ username: 'erin', email: 'erin@corp.test' }]);
    expect(browser.problems).toEqual([]);
  });
});
