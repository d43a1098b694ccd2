import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { launchChromium, type Browser } from '../support/chromium.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { freePort } from '../support/spawn_gatehouse.js';
import { makeTestCertificate, startNginx, type RunningNginx, type TestCertificate } from '../support/nginx_tls.js';
import { ALICE, FIXED_PKCE } from '../support/fixtures.js';

// Gatehouse as deployed: behind nginx ending TLS with deploy/nginx.conf, the issuer
// https://localhost:PORT, TRUST_PROXY=1. A real Chromium signs in, signs in again by single
// sign-on, and signs out, at a relying party that is itself on https. Chromium trusts the test
// certificate by its public key only (--ignore-certificate-errors-spki-list); every other
// certificate check stays on. What it must see: Secure cookies, the session cookie
// SameSite=None, HSTS on every Gatehouse response, no request over plain http (mixed content),
// and no CSP violation.

const SECRET = 'https-rp-secret-0123456789abcdef01234';

interface Received {
  path: string;
  query: Record<string, string>;
}

let dir: string;
let cert: TestCertificate;
let gh: RunningGatehouse;
let nginx: RunningNginx;
let browser: Browser;
let page: Page;
let issuer: string;
let httpPort: number;
let rp: { origin: string; received: Received[]; close(): Promise<void> };
/** every URL Chromium requested, and console lines about mixed content or certificates */
const requested: string[] = [];
const consoleProblems: string[] = [];
/** Gatehouse's responses Chromium got, with their headers */
const responses: { url: string; document: boolean; hsts: string | undefined }[] = [];

/** A relying party on https (same test certificate) that shows whatever arrives. */
async function startHttpsRelyingParty(): Promise<typeof rp> {
  const received: Received[] = [];
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://rp.invalid');
    received.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><title>RP ${url.pathname}</title><h1>Relying party ${url.pathname}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://localhost:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A request to nginx over https, trusting only the test certificate. */
async function httpsRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca: cert.certPem }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

function authorizationUrl(state: string, nonce: string): string {
  return `${issuer}/auth?${new URLSearchParams({
    client_id: 'https-rp',
    response_type: 'code',
    redirect_uri: `${rp.origin}/callback`,
    scope: 'openid profile',
    state,
    nonce,
    ...FIXED_PKCE,
  }).toString()}`;
}

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
      `the browser did not reach ${rp.origin}${pathname}; it stayed on ${page.url()} ("${String(heading)}"). Problems: ${JSON.stringify([...browser.problems, ...consoleProblems])}\n${await nginx?.log()}`,
      { cause: error },
    );
  }
  return new URL(page.url());
}

async function redeem(code: string): Promise<string> {
  const response = await httpsRequest(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`https-rp:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: `${rp.origin}/callback`,
      code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    }).toString(),
  });
  expect(response.status, response.body).toBe(200);
  return (JSON.parse(response.body) as { id_token: string }).id_token;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-nginx-'));
  cert = await makeTestCertificate(dir);
  rp = await startHttpsRelyingParty();
  const [httpsPort, plainPort] = [await freePort(), await freePort()];
  httpPort = plainPort;
  issuer = `https://localhost:${httpsPort}`;
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'https-rp',
        client_secret: SECRET,
        client_name: 'HTTPS RP',
        redirect_uris: [`${rp.origin}/callback`],
        post_logout_redirect_uris: [`${rp.origin}/signed-out`],
        grant_types: ['authorization_code'],
        scope: 'openid profile',
      },
    ],
  });
  const started = (async () => {
    gh = await startGatehouse({ config, env: { ISSUER: issuer, TRUST_PROXY: '1' } });
    await gh.createUser(ALICE);
    nginx = await startNginx({ upstreamPort: (gh.server.address() as AddressInfo).port, httpPort, httpsPort, cert, dir });
  })();
  const [launched, ready] = await Promise.allSettled([
    launchChromium('https-nginx', undefined, [`--ignore-certificate-errors-spki-list=${cert.spkiSha256}`]),
    started,
  ]);
  if (launched.status === 'fulfilled') ({ page } = browser = launched.value);
  for (const result of [launched, ready]) if (result.status === 'rejected') throw result.reason;
  page.on('request', (request) => requested.push(request.url()));
  page.on('console', (msg) => {
    if (/mixed content|certificate|insecure/i.test(msg.text())) consoleProblems.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('response', async (response) => {
    if (response.url().startsWith(`${issuer}/`)) {
      responses.push({
        url: response.url(),
        document: response.request().isNavigationRequest(),
        hsts: (await response.allHeaders())['strict-transport-security'],
      });
    }
  });
});

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  await gh?.close();
  await rp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Chromium over https through nginx (deploy/nginx.conf)', () => {
  let idToken: string;

  it('signs in with login and consent; cookies are Secure, the session cookie SameSite=None', async () => {
    await page.goto(authorizationUrl('state-1', 'nonce-1'));
    await page.locator('input[name="login"]').waitFor();
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();

    const callback = await arriveAtRp('/callback');
    expect(callback.searchParams.get('state')).toBe('state-1');
    expect(callback.searchParams.get('iss')).toBe(issuer);
    idToken = await redeem(callback.searchParams.get('code')!);
    const jwks = JSON.parse((await httpsRequest(`${issuer}/jwks`)).body) as JSONWebKeySet;
    const { payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), { issuer, audience: 'https-rp' });
    expect(payload.nonce).toBe('nonce-1');

    const cookies = await browser.context.cookies(issuer);
    const session = cookies.find((c) => c.name === '_session');
    expect(session).toMatchObject({ secure: true, httpOnly: true, sameSite: 'None' });
    expect(cookies.length).toBeGreaterThanOrEqual(2);
    for (const cookie of cookies) expect(cookie.secure, cookie.name).toBe(true);
  });

  it('signs in again by single sign-on, without a sign-in page', async () => {
    const before = requested.length;
    await page.goto(authorizationUrl('state-2', 'nonce-2'));
    const callback = await arriveAtRp('/callback');
    expect(callback.searchParams.get('state')).toBe('state-2');
    expect(requested.slice(before).some((url) => url.includes('/interaction/'))).toBe(false);
    await redeem(callback.searchParams.get('code')!);
  });

  it('signs out at the end-session endpoint and back at the relying party', async () => {
    await page.goto(
      `${issuer}/session/end?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: `${rp.origin}/signed-out`, state: 'bye' }).toString()}`,
    );
    const signedOut = await arriveAtRp('/signed-out');
    expect(signedOut.searchParams.get('state')).toBe('bye');
    await page.goto(authorizationUrl('state-3', 'nonce-3'));
    await page.locator('input[name="password"]').waitFor();
  });

  it('saw HSTS on every Gatehouse response, nothing over plain http, no CSP violation', () => {
    const pages = responses.filter((r) => r.document);
    expect(pages.length).toBeGreaterThan(8);
    const withHsts = (r: (typeof responses)[number]) => /max-age=\d{7,}/.test(r.hsts ?? '');
    expect(pages.filter((r) => !withHsts(r))).toEqual([]);
    // Stylesheets too, when fetched rather than taken from Chromium's cache (which keeps no headers to show).
    expect(responses.some((r) => !r.document && r.url.includes('/static/') && withHsts(r))).toBe(true);
    expect(requested.filter((url) => url.startsWith('http:'))).toEqual([]);
    expect(consoleProblems).toEqual([]);
    expect(browser.problems).toEqual([]);
  });

  it('nginx redirects plain http, hides /metrics, and passes on only the address it saw', async () => {
    const plain = await fetch(`http://localhost:${httpPort}/.well-known/openid-configuration?x=1`, { redirect: 'manual' });
    expect(plain.status).toBe(308);
    expect(plain.headers.get('location')).toBe(`${issuer}/.well-known/openid-configuration?x=1`);
    for (const metricsPath of ['/metrics', '/METRICS', '/metrics/', '//metrics'])
      expect((await httpsRequest(`${issuer}${metricsPath}`)).status, metricsPath).toBe(403);

    // A client's own X-Forwarded-For is replaced by nginx, not passed on.
    const response = await httpsRequest(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('https-rp:wrong').toString('base64')}`,
        'x-forwarded-for': '203.0.113.50',
      },
      body: 'grant_type=authorization_code&code=x&redirect_uri=x',
    });
    expect(response.status).toBe(401);
    const { rows } = await gh.testDb.db.query<{ ip: string }>("SELECT ip FROM audit_events WHERE event = 'client_auth.failure'");
    expect(rows.map((r) => r.ip)).toEqual(['127.0.0.1']);
  });
});
