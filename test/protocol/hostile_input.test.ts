import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, signedInBrowser } from '../support/factories.js';
import { ALICE, FIXED_PKCE, RP, SECRETS } from '../support/fixtures.js';
import type { oidc } from '../support/relying_party.js';
import { basicAuth } from '../support/oauth_requests.js';
import { LOGIN_FORM, expectPage, pageKind, startAuthorization } from '../support/hosted_pages.js';

// Regressions found by the fuzz suite (test/fuzz): input that used to reach the database or the
// provider's body parser and come back as a 500 or a vague 400.

let gh: RunningGatehouse;
let web: oidc.Configuration;
let sessionCookie: string;

const FORM = 'application/x-www-form-urlencoded';
const webAuth = basicAuth({ clientId: 'web', secret: SECRETS.web });

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  web = await rpFor(gh, 'web');
  const { ua } = await signedInBrowser(web, ALICE);
  sessionCookie = await ua.jar.getCookieString(gh.issuer);
});
afterAll(() => gh?.close());

// Every client must send PKCE: without it the request would be refused before the NUL is seen.
const PKCE = new URLSearchParams(FIXED_PKCE).toString();

function authPath(extra: string): string {
  const redirect = encodeURIComponent(`${RP}/callback`);
  const pkce = extra.includes('code_challenge=') ? '' : `${PKCE}&`;
  return `/auth?client_id=web&response_type=code&scope=openid&redirect_uri=${redirect}&state=s&${pkce}${extra}`;
}

describe('a NUL character in a parameter (Postgres text cannot hold one)', () => {
  it('in nonce or state of a signed-in authorization request: invalid_request back to the client, not a 500', async () => {
    for (const extra of ['nonce=a%00b', 'code_challenge=%00&code_challenge_method=plain']) {
      const res = await request(gh.server).get(authPath(extra)).set('cookie', sessionCookie);
      expect(res.status).toBe(303);
      const location = new URL(res.headers.location!);
      expect(`${location.origin}${location.pathname}`).toBe(`${RP}/callback`);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('s');
    }
  });

  it('in the state of a request that needs the login page: invalid_request back to the client', async () => {
    const res = await request(gh.server).get(
      `/auth?client_id=web&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${RP}/callback`)}&${PKCE}&state=a%00b`,
    );
    expect(res.status).toBe(303);
    expect(new URL(res.headers.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('in client_id at the authorization endpoint: the unknown-application page', async () => {
    const res = await request(gh.server).get('/auth?client_id=we%00b&response_type=code&scope=openid').set('accept', 'text/html');
    expect(res.status).toBe(400);
    expect(res.text).toContain('<code>invalid_client</code>');
  });

  it('in client_id at the token, revocation and introspection endpoints: invalid_client', async () => {
    for (const path of ['/token', '/token/revocation', '/token/introspection']) {
      const res = await request(gh.server).post(path).type('form').send('client_id=a%00b&client_secret=x&grant_type=client_credentials&token=x');
      expect(res.status, path).toBe(401);
      expect((res.body as { error?: string }).error, path).toBe('invalid_client');
    }
  });

  it('in a pushed authorization request: accepted (kept encoded), then invalid_request back to the client when used', async () => {
    const pushed = await request(gh.server)
      .post('/request')
      .set('authorization', webAuth)
      .type('form')
      .send(`client_id=web&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${RP}/callback`)}&${PKCE}&state=s&nonce=a%00b`);
    expect(pushed.status).toBe(201);
    const used = await request(gh.server)
      .get(`/auth?client_id=web&request_uri=${encodeURIComponent((pushed.body as { request_uri: string }).request_uri)}`)
      .set('cookie', sessionCookie);
    expect(used.status).toBe(303);
    const location = new URL(used.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${RP}/callback`);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('in the state of a signed-in end-session request: an OAuth error or an error page, not a bare text answer', async () => {
    // The library saves the session once more after the route has answered (with the error):
    // that second refusal used to reach Koa's default handler.
    const json = await request(gh.server).get('/session/end?state=a%00b').set('cookie', sessionCookie).set('accept', 'application/json');
    expect(json.status).toBe(400);
    expect(json.body).toEqual({ error: 'invalid_request', error_description: 'request parameters must not contain NUL characters or unpaired surrogates' });
    const page = await request(gh.server).get('/session/end?state=a%00b').set('cookie', sessionCookie).set('accept', 'text/html');
    expect(page.status).toBe(400);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<code>invalid_request</code>');
    // The session is untouched: the confirmation page still shows for it.
    const confirm = await request(gh.server).get('/session/end').set('cookie', sessionCookie).set('accept', 'text/html');
    expect(confirm.status).toBe(200);
    expect(confirm.text).toMatch(/name="logout" value="yes"/);
  });

  it('in the login field of the sign-in form: the wrong-credentials page', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    expect(pageKind(login)).toBe('login');
    const page = expectPage(await ua.submit(login, LOGIN_FORM, { login: 'ali\0ce', password: ALICE.password }, RP));
    expect(page.status).toBe(401);
    expect(pageKind(page)).toBe('login');
  });
});

describe('a request body over the provider limit (56 kB)', () => {
  const big = `token=${'x'.repeat(1_100_000)}`;

  it('is refused with 413 and an OAuth error that says why, at every endpoint that reads a body', async () => {
    for (const path of ['/token', '/token/introspection', '/token/revocation', '/request', '/me', '/session/end/confirm']) {
      const res = await request(gh.server).post(path).set('authorization', webAuth).set('accept', 'application/json').type('form').send(big);
      expect(res.status, path).toBe(413);
      expect(res.headers['cache-control'], path).toBe('no-store');
      // A pushed request is stored as sent: its own, lower cap (anonymous_request_limits.test.ts).
      const said = path === '/request' ? 'the request parameters are longer than 8 kB' : 'the request body is larger than 56 kB';
      expect(res.body, path).toEqual({ error: 'invalid_request', error_description: said });
    }
  });

  it('is a "Request too large" page for a browser', async () => {
    const res = await request(gh.server).post('/session/end/confirm').set('accept', 'text/html').type('form').send(big);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<h1[^>]*>Request too large<\/h1>/);
  });

  it('just under the limit still reaches the provider', async () => {
    const res = await request(gh.server)
      .post('/token')
      .set('authorization', basicAuth({ clientId: 'service', secret: SECRETS.service }))
      .type('form')
      .send(`grant_type=client_credentials&scope=things:read&pad=${'x'.repeat(50_000)}`);
    expect(res.status).toBe(200);
    expect((res.body as { access_token?: string }).access_token).toBeTruthy();
  });

  it('is refused at the interaction routes too (their own 16 kB limit)', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    const action = new URL(login.$(LOGIN_FORM).attr('action')!, login.url);
    const cookie = await ua.jar.getCookieString(action.href);
    for (const step of ['login', 'confirm', 'abort']) {
      const res = await request(gh.server)
        .post(action.pathname.replace(/login$/, step))
        .set('cookie', cookie)
        .set('accept', 'text/html')
        .type(FORM)
        .send(big);
      expect(res.status, step).toBe(413);
      expect(res.text, step).toMatch(/Request too large/);
    }
  });
});
