import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';
import { launchChromium, type Browser } from '../support/chromium.js';

// Front-channel logout in a real browser: a small relying party records the request its
// frontchannel_logout_uri receives from the hidden iframe on Gatehouse's sign-out page, under
// Gatehouse's Content-Security-Policy (frame-src must allow exactly the RP's origin).

const SECRET = 'fc-browser-secret-0123456789abcdef012345';

interface Hit {
  path: string;
  query: Record<string, string>;
  /** Sec-Fetch-Dest: "iframe" when the browser loaded it in a frame */
  dest: string | undefined;
}

async function startRelyingParty() {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://rp.invalid');
    hits.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), dest: req.headers['sec-fetch-dest'] });
    const title = url.pathname === '/frontchannel-logout' ? 'RP session cleared' : `Relying party ${url.pathname}`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!DOCTYPE html><title>${title}</title><h1>${title}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let gh: RunningGatehouse;
let rp: Awaited<ReturnType<typeof startRelyingParty>>;
let browser: Browser;
let rpConfig: oidc.Configuration;

beforeAll(async () => {
  rp = await startRelyingParty();
  const config = gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'fc-rp',
        client_secret: SECRET,
        client_name: 'Front-channel RP',
        redirect_uris: [`${rp.origin}/callback`],
        post_logout_redirect_uris: [`${rp.origin}/signed-out`],
        frontchannel_logout_uri: `${rp.origin}/frontchannel-logout`,
        frontchannel_logout_session_required: true,
        scope: 'openid profile',
        skip_consent: true,
      },
    ],
    apis: [],
  });
  const [started, launched] = await Promise.allSettled([
    (async () => {
      gh = await startGatehouse({ config });
      await gh.createUser(ALICE);
      rpConfig = await discover(gh.issuer, 'fc-rp', SECRET);
    })(),
    launchChromium('frontchannel').then((b) => (browser = b)),
  ]);
  for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason;
});
afterAll(async () => {
  await browser?.close();
  await gh?.close();
  await rp?.close();
});

describe('front-channel logout in Chromium', () => {
  it("loads the RP's frontchannel_logout_uri with iss and sid in a hidden iframe, then returns to the RP", async () => {
    const { page } = browser;
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rpConfig, {
      redirect_uri: `${rp.origin}/callback`,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    await page.goto(url.href);
    await page.fill('input[name="login"]', ALICE.username);
    await page.fill('input[name="password"]', ALICE.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.origin === rp.origin && u.pathname === '/callback');
    const tokens = await oidc.authorizationCodeGrant(rpConfig, new URL(page.url()), {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const sid = tokens.claims()!.sid as string;

    // Without id_token_hint Gatehouse asks; the user confirms.
    const bye = oidc.randomState();
    await page.goto(oidc.buildEndSessionUrl(rpConfig, { client_id: 'fc-rp', post_logout_redirect_uri: `${rp.origin}/signed-out`, state: bye }).href);
    const signOut = page.getByRole('button', { name: 'Sign out' });
    await signOut.waitFor();
    await browser.screenshot('1-sign-out-confirm');
    await signOut.click();

    await page.waitForURL((u) => u.origin === rp.origin && u.pathname === '/signed-out');
    expect(new URL(page.url()).searchParams.get('state')).toBe(bye);
    await browser.screenshot('2-back-at-rp');

    const frames = rp.hits.filter((h) => h.path === '/frontchannel-logout');
    expect(frames).toEqual([{ path: '/frontchannel-logout', query: { iss: gh.issuer, sid }, dest: 'iframe' }]);
    expect(browser.problems).toEqual([]);
  });
});
