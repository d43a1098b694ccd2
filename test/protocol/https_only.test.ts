import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { FIXED_PKCE, RP } from '../support/fixtures.js';

// An https:// issuer is https only. A request that reached Gatehouse over plain http, whether
// straight to its port or with X-Forwarded-Proto: http from the trusted proxy, used to get the
// interaction cookies without `Secure`, could finish a sign-in, and discovery fetched that way
// named http:// endpoints. Now it is sent to the same path on the issuer with a 308 before any
// routing, and gets no cookie. Only the probes answer over http.

const ISSUER = 'https://id.gatehouse.test';
const AUTH_QUERY = new URLSearchParams({
  client_id: 'web',
  response_type: 'code',
  redirect_uri: `${RP}/callback`,
  scope: 'openid',
  ...FIXED_PKCE,
}).toString();

async function get(gh: RunningGatehouse, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return fetch(`${gh.issuer}${path}`, {
    method,
    headers: { accept: 'text/html', ...headers },
    redirect: 'manual',
    ...(method === 'POST' ? { body: 'login=a&password=b' } : {}),
  });
}

async function expectSentToIssuer(response: Response, path: string): Promise<void> {
  expect(response.status).toBe(308);
  expect(response.headers.get('location')).toBe(`${ISSUER}${path}`);
  expect(response.headers.getSetCookie()).toEqual([]);
  expect(await response.text()).not.toMatch(/http:\/\/id\.gatehouse\.test/);
}

describe('with an https issuer behind a trusted proxy (TRUST_PROXY=1)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env: { ISSUER, TRUST_PROXY: '1' } });
  });
  afterAll(() => gh?.close());

  for (const [what, headers] of [
    ['with no X-Forwarded-Proto', {}],
    ['with X-Forwarded-Proto: http from the proxy', { 'x-forwarded-proto': 'http' }],
  ] as const) {
    it(`sends a plain http request ${what} to the issuer's https URL, without a cookie`, async () => {
      await expectSentToIssuer(await get(gh, `/auth?${AUTH_QUERY}`, headers), `/auth?${AUTH_QUERY}`);
      await expectSentToIssuer(await get(gh, '/.well-known/openid-configuration', headers), '/.well-known/openid-configuration');
      await expectSentToIssuer(await get(gh, '/interaction/some-uid/login', headers, 'POST'), '/interaction/some-uid/login');
      await expectSentToIssuer(await get(gh, '/session/end', headers), '/session/end');
      // The Host the request named plays no part in where it is sent.
      await expectSentToIssuer(await get(gh, '/account', { ...headers, 'x-forwarded-host': 'evil.example' }), '/account');
    });
  }

  it('serves the same requests once the proxy says https, naming https endpoints', async () => {
    const discovery = await get(gh, '/.well-known/openid-configuration', { 'x-forwarded-proto': 'https', accept: 'application/json' });
    expect(discovery.status).toBe(200);
    const body = (await discovery.json()) as Record<string, string>;
    expect(body.authorization_endpoint).toBe(`${ISSUER}/auth`);
    expect(body.token_endpoint).toBe(`${ISSUER}/token`);
    const auth = await get(gh, `/auth?${AUTH_QUERY}`, { 'x-forwarded-proto': 'https' });
    expect(auth.status).toBe(303);
    const cookies = auth.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*secure/i);
  });

  it('keeps the probes on plain http', async () => {
    expect((await get(gh, '/healthz')).status).toBe(200);
    expect((await get(gh, '/readyz')).status).toBe(200);
    expect((await get(gh, '/metrics')).status).toBe(200);
  });
});

describe('with an https issuer and no trusted proxy', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env: { ISSUER } });
  });
  afterAll(() => gh?.close());

  it("does not take a client's own X-Forwarded-Proto: https for https", async () => {
    await expectSentToIssuer(await get(gh, `/auth?${AUTH_QUERY}`, { 'x-forwarded-proto': 'https' }), `/auth?${AUTH_QUERY}`);
    await expectSentToIssuer(await get(gh, '/.well-known/openid-configuration', { 'x-forwarded-proto': 'https' }), '/.well-known/openid-configuration');
    expect((await get(gh, '/healthz')).status).toBe(200);
  });

  it('warns at start-up that only the probes can be reached', () => {
    expect(gh.logs).toContainEqual(expect.objectContaining({ level: 40, event: 'config.https_without_proxy' }));
  });
});
