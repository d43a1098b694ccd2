import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtVerify, createRemoteJWKSet } from 'jose';
import { buildUser, credentialsOf, configWithClients, startGatehouseWithUsers } from '../support/factories.js';
import { discover, oidc } from '../support/relying_party.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import { FIXED_PKCE, RP } from '../support/fixtures.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';

// RFC 8252: a CLI or desktop app signs in through the system browser and gets the answer on a
// loopback listener whose port the OS picks at sign-in, or on a private-use URI scheme; it is a
// public client, so PKCE is what keeps a stolen code useless.

const USER = buildUser();
const SCHEME_REDIRECT = 'com.example.cli:/callback';

let gh: RunningGatehouse;
let rp: oidc.Configuration;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([USER], {
    config: configWithClients({
      client_id: 'cli',
      client_name: 'Example CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback', SCHEME_REDIRECT],
      post_logout_redirect_uris: ['http://127.0.0.1/signed-out'],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile offline_access',
    }),
  }));
  rp = await discover(gh.issuer, 'cli');
});
afterAll(() => gh?.close());

/** A loopback listener as a CLI opens it: any free port, remembers the one callback it gets. */
async function loopbackListener(host: '127.0.0.1' | '::1') {
  let received: URL | undefined;
  const server = http.createServer((req, res) => {
    received = new URL(req.url ?? '/', `http://${host === '::1' ? '[::1]' : host}:${String((server.address() as AddressInfo).port)}`);
    res.setHeader('content-type', 'text/plain').end('Signed in. You may close this window.');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    redirectUri: `http://${host === '::1' ? '[::1]' : host}:${String(port)}/callback`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Sign-in through the hosted pages until the browser leaves them (to the app's redirect). */
async function signInThroughPages(url: string, stopAt?: string): Promise<Page | { redirectedTo: string }> {
  const ua = new UserAgent();
  let result = await ua.follow(url, {}, stopAt);
  for (let step = 0; step < 4 && isPage(result); step++) {
    if (result.$('form[action$="/login"] input[name="password"]').length) {
      result = await ua.submit(result, 'form[action$="/login"]', credentialsOf(USER), stopAt);
    } else if (result.$('form[action$="/confirm"]').length) {
      result = await ua.submit(result, 'form[action$="/confirm"]', {}, stopAt);
    } else {
      break;
    }
  }
  return result;
}

async function codeRequest(redirectUri: string, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url: url.href, verifier, state };
}

describe('a native app signing in through a loopback listener', () => {
  it('registered as http://127.0.0.1/callback, gets tokens on a port the OS picked', async () => {
    const listener = await loopbackListener('127.0.0.1');
    try {
      const { url, verifier, state } = await codeRequest(listener.redirectUri);
      const last = await signInThroughPages(url);
      // The browser landed on the app's listener, which got the code.
      expect(isPage(last) && last.body).toBe('Signed in. You may close this window.');
      const callback = listener.received()!;
      expect(callback.origin).toBe(new URL(listener.redirectUri).origin);
      expect(callback.searchParams.get('code')).toBeTruthy();

      const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
      const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: 'cli' });
      expect(payload.sub).toBeTruthy();
      const info = await oidc.fetchUserInfo(rp, tokens.access_token, payload.sub!);
      expect(info.preferred_username).toBe(USER.username);
    } finally {
      await listener.close();
    }
  });

  it('accepts the same registration on the IPv6 loopback [::1], any port', async () => {
    const listener = await loopbackListener('::1');
    try {
      const { url, verifier, state } = await codeRequest(listener.redirectUri);
      await signInThroughPages(url);
      const callback = listener.received()!;
      expect(callback.hostname).toBe('[::1]');
      const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.access_token).toBeTruthy();
    } finally {
      await listener.close();
    }
  });

  it('refuses another path on the loopback, and never sends the browser there', async () => {
    const { url } = await codeRequest('http://127.0.0.1:43123/elsewhere');
    const page = await new UserAgent().follow(url);
    expect(isPage(page) && page.status).toBe(400);
    expect(isPage(page) && page.body).toContain('redirect_uri');
  });

  it('matches any port only for native apps: a web client must use its port exactly', async () => {
    const web = await discover(gh.issuer, 'web', 'web-secret-0123456789abcdef0123456789');
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: 'http://127.0.0.1:10/callback', scope: 'openid', ...FIXED_PKCE });
    const page = await new UserAgent().follow(url.href);
    expect(isPage(page) && page.status).toBe(400);
    // Registered as RP/callback (port 9): that one is fine.
    const ok = await new UserAgent().follow(oidc.buildAuthorizationUrl(web, { redirect_uri: `${RP}/callback`, scope: 'openid', ...FIXED_PKCE }).href);
    expect(isPage(ok) && ok.$('input[name="password"]').length).toBe(1);
  });
});

describe('a native app signing out', () => {
  const endSession = (target: string) =>
    new UserAgent().follow(`${gh.issuer}/session/end?${new URLSearchParams({ client_id: 'cli', post_logout_redirect_uri: target }).toString()}`);

  it('may come back to its loopback listener on any port, IPv4 or IPv6', async () => {
    for (const target of ['http://127.0.0.1:50123/signed-out', 'http://[::1]:50124/signed-out']) {
      const page = await endSession(target);
      expect(isPage(page) && page.status, target).toBe(200);
      // The sign-out confirmation, not the error page a wrong URI gets.
      expect(isPage(page) && page.$('form').length, target).toBeGreaterThan(0);
    }
  });

  it('may not come back to another path', async () => {
    const page = await endSession('http://127.0.0.1:50123/elsewhere');
    expect(isPage(page) && page.status).toBe(400);
  });
});

describe("the hosted pages' form-action", () => {
  // Chromium applies it to the redirects after the consent post (test/browser/native_app_sign_in.test.ts).
  it('lets the browser go on to any loopback port and to the app scheme, not to any http URL', async () => {
    const { url } = await codeRequest(SCHEME_REDIRECT);
    const response = await fetch(url, { redirect: 'manual' });
    const formAction = /form-action ([^;]*)/.exec(response.headers.get('content-security-policy') ?? '')?.[1]?.split(' ') ?? [];
    expect(formAction).toEqual(expect.arrayContaining(["'self'", 'http://127.0.0.1:*', 'com.example.cli:']));
    expect(formAction).not.toContain('http:');
  });
});

describe('a native app on a private-use URI scheme', () => {
  it('gets its code at com.example.cli:/callback and exchanges it', async () => {
    const { url, verifier, state } = await codeRequest(SCHEME_REDIRECT);
    const last = await signInThroughPages(url, 'com.example.cli:');
    expect(isPage(last)).toBe(false);
    const callback = new URL((last as { redirectedTo: string }).redirectedTo);
    expect(`${callback.protocol}${callback.pathname}`).toBe(SCHEME_REDIRECT);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
  });
});

describe('PKCE for native apps', () => {
  it('refuses an authorization request without a code challenge (invalid_request at the redirect)', async () => {
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: SCHEME_REDIRECT, scope: 'openid', state: 'no-pkce' });
    const result = await new UserAgent().follow(url.href, {}, 'com.example.cli:');
    expect(isPage(result)).toBe(false);
    const callback = new URL((result as { redirectedTo: string }).redirectedTo);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('refuses a code exchanged without the verifier', async () => {
    const { url, state } = await codeRequest(SCHEME_REDIRECT);
    const last = await signInThroughPages(url, 'com.example.cli:');
    const callback = new URL((last as { redirectedTo: string }).redirectedTo);
    expect(callback.searchParams.get('state')).toBe(state);
    const response = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'cli',
        code: callback.searchParams.get('code')!,
        redirect_uri: SCHEME_REDIRECT,
      }).toString(),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
