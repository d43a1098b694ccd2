import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/chromium.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, API } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';

// A real Chromium, with Gatehouse's Content-Security-Policy in force, signs in at a relying
// party that really listens. This is what HTTP-level tests cannot see: Chromium applies
// `form-action` to the whole redirect chain after the consent form posts, so a CSP that allows
// only 'self' leaves the user stuck on the consent page.

const SECRET = 'browser-rp-secret-0123456789abcdef0123';

interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  /** the urlencoded body, for response_mode=form_post */
  body: string;
}

/** A relying party that shows (and records) whatever arrives at its callback pages. */
async function startRelyingParty(): Promise<{ origin: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://rp.invalid');
      const body = Buffer.concat(chunks).toString('utf8');
      const entry = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), body };
      received.push(entry);
      const params = entry.method === 'POST' ? Object.fromEntries(new URLSearchParams(body)) : entry.query;
      const title = url.pathname === '/signed-out' ? 'Signed out of the relying party' : `Relying party ${url.pathname}`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!DOCTYPE html><title>${title}</title><h1>${title}</h1><p>${entry.method}</p><pre id="params">${JSON.stringify(params).replace(/</g, '&lt;')}</pre>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let gh: RunningGatehouse;
let rp: Awaited<ReturnType<typeof startRelyingParty>>;
let browser: Browser;
let page: Page;
let rpConfig: oidc.Configuration;
/** CSP violations and script errors Chromium reported */
let problems: string[] = [];
let idToken: string;

beforeAll(async () => {
  rp = await startRelyingParty();
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'browser-rp',
        client_secret: SECRET,
        client_name: 'Browser RP',
        redirect_uris: [`${rp.origin}/callback`],
        post_logout_redirect_uris: [`${rp.origin}/signed-out`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email things:read',
      },
    ],
    apis: [{ identifier: API, name: 'Things API', scopes: ['things:read'], access_token_format: 'jwt' }],
  });
  // Chromium starts while Gatehouse does: each takes a few seconds.
  const gatehouse = (async () => {
    gh = await startGatehouse({ config });
    await gh.createUser(ALICE);
    rpConfig = await discover(gh.issuer, 'browser-rp', SECRET);
  })();
  const [launched, started] = await Promise.allSettled([launchChromium('browser-test'), gatehouse]);
  if (launched.status === 'fulfilled') ({ page, problems } = browser = launched.value);
  for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await browser?.close();
  await gh?.close();
  await rp?.close();
});

async function authorizationUrl(extra: Record<string, string> = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rpConfig, {
    redirect_uri: `${rp.origin}/callback`,
    scope: 'openid profile email things:read',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, codeVerifier, state, nonce };
}

/** Waits for the browser to reach the relying party; if it does not, says where it stayed and why. */
async function arriveAtRp(pathname: string): Promise<URL> {
  try {
    await page.waitForURL((url) => url.origin === rp.origin && url.pathname === pathname);
  } catch (error) {
    const heading = await page
      .locator('h1')
      .first()
      .textContent()
      .catch(() => '');
    throw new Error(
      `the browser did not reach ${rp.origin}${pathname}; it stayed on ${page.url()} ("${String(heading)}"). CSP violations and script errors: ${JSON.stringify(problems)}`,
      { cause: error },
    );
  }
  return new URL(page.url());
}
const shot = (name: string) => browser.screenshot(name);

describe('sign-in in Chromium with the Content-Security-Policy in force', () => {
  it('goes through login and consent and lands on the relying party with a code', async () => {
    const request = await authorizationUrl();
    await page.goto(request.url.href);

    await page.locator('input[name="login"]').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await shot('1-login');
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.locator('h1').textContent()).toContain('Browser RP');
    await shot('2-consent');
    await page.getByRole('button', { name: 'Allow' }).click();

    // Blocked by a `form-action 'self'` CSP, the browser would stay on the consent page.
    const callback = await arriveAtRp('/callback');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('code')).toMatch(/\S{20,}/);
    expect(JSON.parse((await page.locator('#params').textContent())!)).toMatchObject({ code: callback.searchParams.get('code') });

    const tokens = await oidc.authorizationCodeGrant(rpConfig, callback, {
      pkceCodeVerifier: request.codeVerifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: 'browser-rp' });
    expect(payload.nonce).toBe(request.nonce);
    expect(problems).toEqual([]);
  });

  it('with the session in place, response_mode=form_post posts code and state to the relying party', async () => {
    const request = await authorizationUrl({ response_mode: 'form_post' });
    const before = rp.received.length;
    await page.goto(request.url.href);

    await arriveAtRp('/callback');
    const posted = rp.received.slice(before).find((r) => r.path === '/callback');
    expect(posted?.method).toBe('POST');
    const form = new URLSearchParams(posted!.body);
    expect(form.get('state')).toBe(request.state);
    expect(form.get('code')).toMatch(/\S{20,}/);
    expect(await page.locator('p').first().textContent()).toBe('POST');

    // The posted response is good for tokens, as an RP would read it from its request.
    const tokens = await oidc.authorizationCodeGrant(
      rpConfig,
      new Request(`${rp.origin}/callback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: posted!.body }),
      { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce },
    );
    expect(tokens.claims()?.sub).toBeTypeOf('string');
    idToken = tokens.id_token!;
    expect(problems).toEqual([]);
  });

  it('signs out at the end-session endpoint and returns to the post-logout URI with the state', async () => {
    expect(idToken).toBeTypeOf('string');
    const state = oidc.randomState();
    const endSession = oidc.buildEndSessionUrl(rpConfig, {
      id_token_hint: idToken,
      post_logout_redirect_uri: `${rp.origin}/signed-out`,
      state,
    });
    // The ID token names this very session, so nothing is asked: the confirmation form submits
    // itself (views/static/auto_submit.js, allowed by script-src 'self').
    await page.goto(endSession.href);

    const signedOut = await arriveAtRp('/signed-out');
    expect(signedOut.searchParams.get('state')).toBe(state);
    await shot('4-signed-out');

    // The Gatehouse session is gone: the next authorization request asks for the password.
    const again = await authorizationUrl();
    await page.goto(again.url.href);
    await page.locator('input[name="password"]').waitFor();
    expect(problems).toEqual([]);
  });
});
