import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession, Page } from 'playwright-core';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';

// Passkeys in a real Chromium with a virtual authenticator (the DevTools protocol's WebAuthn
// domain), the Content-Security-Policy in force: add a passkey on /account, rename it, sign out,
// sign in with the passkey alone at a relying party, and check the ID token's amr with the JWKS.
// The issuer is http://localhost:PORT: a secure context whose host name can be an RP id (an IP
// address cannot). Screenshots, light and dark, go to SHOTS_DIR.

const SECRET = 'passkey-browser-secret-0123456789abcdef';
const SHOTS_DIR = process.env.PASSKEY_SHOTS_DIR ?? '/tmp/shots/passkeys';

let gh: RunningGatehouse;
let rp: http.Server;
let rpOrigin: string;
let browser: Browser;
let page: Page;
let cdp: CDPSession;
let authenticatorId: string;
let rpConfig: oidc.Configuration;
let problems: string[] = [];

beforeAll(async () => {
  rp = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>RP</title><h1>Relying party</h1>'));
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'passkey-rp',
        client_secret: SECRET,
        client_name: 'Passkey RP',
        redirect_uris: [`${rpOrigin}/callback`],
        grant_types: ['authorization_code'],
        scope: 'openid profile email',
      },
    ],
  });
  const gatehouse = (async () => {
    gh = await startGatehouse({ config, issuerHost: 'localhost' });
    await gh.createUser(ALICE);
    rpConfig = await discover(gh.issuer, 'passkey-rp', SECRET);
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('passkeys', SHOTS_DIR), gatehouse]);
  if (launched.status === 'fulfilled') ({ page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
  cdp = await browser.context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  }));
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
  rp?.closeAllConnections();
  await new Promise<void>((resolve) => (rp ? rp.close(() => resolve()) : resolve()));
});

async function startAuthorization() {
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
  return { codeVerifier, state, nonce };
}

async function idTokenClaims(request: { codeVerifier: string; state: string; nonce: string }) {
  await page.waitForURL((u) => u.origin === rpOrigin);
  const tokens = await oidc.authorizationCodeGrant(rpConfig, new URL(page.url()), {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: 'passkey-rp' });
  return payload;
}

async function shots(name: string, target?: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const path = `${SHOTS_DIR}/${name}-${colorScheme}.png`;
    if (target) await page.locator(target).screenshot({ path });
    else await page.screenshot({ path, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const passkeysSection = 'section[aria-labelledby="passkeys-title"]';

/** Through the consent page when it is asked (once per client), to the relying party. */
async function allowAndArrive() {
  const allow = page.getByRole('button', { name: 'Allow' });
  await Promise.race([page.waitForURL((u) => u.origin === rpOrigin), allow.waitFor()]);
  if (new URL(page.url()).origin !== rpOrigin) await allow.click();
}

async function signOutEverywhere() {
  await page.goto(`${gh.issuer}/account`);
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.waitForURL((u) => u.pathname === '/account/signed-out');
}

describe('passkeys in Chromium with a virtual authenticator', () => {
  it('adds a passkey on /account after a password sign-in, and renames it', async () => {
    await page.goto(`${gh.issuer}/account`);
    // Before any passkey exists the autofill request waits: the page can be looked at as it is.
    await page.locator('#passkey-sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('input[name="login"]').getAttribute('autocomplete')).toBe('username webauthn');
    await shots('login-passkey');
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.locator('#no-passkeys').textContent()).toBe('You have no passkeys.');

    await page.fill('#passkey_name', 'Test laptop');
    await page.fill('#passkey_password', ALICE.password);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL((u) => u.search === '?done=passkey-added');
    expect(await page.getByRole('status').textContent()).toMatch(/passkey was added/);
    expect(await page.locator('#passkeys .passkey-name').allTextContents()).toEqual(['Test laptop']);
    expect(await page.locator('#passkeys').textContent()).toContain('Passkey on one device');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    await page.locator('#passkeys input[name="name"]').fill('Work laptop');
    await page.getByRole('button', { name: 'Rename Test laptop' }).click();
    await page.waitForURL((u) => u.search === '?done=passkey-renamed');
    expect(await page.locator('#passkeys .passkey-name').allTextContents()).toEqual(['Work laptop']);
    expect(await page.locator('#events').textContent()).toContain('Passkey added (Test laptop)');
    expect(await page.locator('#events').textContent()).toContain('Passkey renamed to Work laptop');
    await shots('account-passkeys', passkeysSection);
    expect(problems).toEqual([]);
  });

  it('signs out; the login page autofill (conditional UI) signs in with the passkey alone: amr hwk, mfa and acr mfa in the ID token', async () => {
    await signOutEverywhere();
    // The virtual authenticator answers the page's conditional request with its only passkey,
    // as a person picking it from the username field's suggestions would: nothing is clicked.
    const request = await startAuthorization();
    await allowAndArrive();
    const claims = await idTokenClaims(request);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe('mfa');

    await page.goto(`${gh.issuer}/account`);
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.locator('#passkeys dd').nth(1).textContent()).not.toBe('never');
    expect(await page.locator('#events').textContent()).toContain('Signed in with a passkey to Passkey RP');
    expect(problems).toEqual([]);
  });

  it("signs in with the login page's passkey button", async () => {
    await signOutEverywhere();
    // From here on the browser offers no autofill: only the button can start a passkey sign-in.
    await page.addInitScript({ content: 'PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);' });
    const request = await startAuthorization();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await allowAndArrive();
    const claims = await idTokenClaims(request);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe('mfa');
    expect(problems).toEqual([]);
  });

  it('asks for the passkey as the second factor after the password: amr pwd, hwk, mfa', async () => {
    await signOutEverywhere();
    const request = await startAuthorization();
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('input[name="code"]').waitFor();
    await page.getByRole('button', { name: 'Use a passkey instead' }).waitFor();
    await shots('second-factor-passkey');
    await page.getByRole('button', { name: 'Use a passkey instead' }).click();
    await allowAndArrive();
    const claims = await idTokenClaims(request);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'hwk', 'mfa']));
    expect(claims.acr).toBe('mfa');
    expect(problems).toEqual([]);
  });

  it('removes the passkey; it no longer signs in, and the password alone does again', async () => {
    await page.goto(`${gh.issuer}/account`);
    await page.getByRole('button', { name: 'Remove Work laptop' }).click();
    await page.waitForURL((u) => u.search === '?done=passkey-removed');
    expect(await page.locator('#no-passkeys').count()).toBe(1);
    expect(await page.locator('#events').textContent()).toContain('Passkey removed (Work laptop)');
    await signOutEverywhere();

    const request = await startAuthorization();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/not registered here/);
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await allowAndArrive();
    expect((await idTokenClaims(request)).amr).toEqual(['pwd']);
    expect(problems).toEqual([]);
  });
});
