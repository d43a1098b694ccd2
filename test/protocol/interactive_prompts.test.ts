import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf, signedInBrowser } from '../support/factories.js';
import { ALICE, BOB, RP } from '../support/fixtures.js';
import { authorize, oidc, signIn } from '../support/relying_party.js';
import { UserAgent, isPage } from '../support/user_agent.js';
import { eventually } from '../support/eventually.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind, startAuthorization } from '../support/hosted_pages.js';

// prompt, max_age, id_token_hint, login_hint, the claims parameter, and what the ID token
// carries, all through the hosted pages over HTTP.

let gh: RunningGatehouse;
let web: oidc.Configuration;
let jwks: ReturnType<typeof createRemoteJWKSet>;

const alice = credentialsOf(ALICE);
const bob = credentialsOf(BOB);

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE, BOB]));
  web = await rpFor(gh, 'web');
  jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
});
afterAll(() => gh?.close());

async function verifyIdToken(idToken: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(idToken, jwks, { issuer: gh.issuer, audience: 'web' });
  return payload;
}

/** A browser with a Gatehouse session for Alice (and her consent for openid profile email). */
const aliceSignedIn = () => signedInBrowser(web, ALICE);

async function exchange(result: { callback: URL; codeVerifier: string; state: string; nonce: string }) {
  return oidc.authorizationCodeGrant(web, result.callback, {
    pkceCodeVerifier: result.codeVerifier,
    expectedState: result.state,
    expectedNonce: result.nonce,
    idTokenExpected: true,
  });
}

describe('the ID token from a sign-in', () => {
  it('echoes the nonce and carries auth_time, sid and an at_hash of the access token', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { tokens, nonce } = await aliceSignedIn();
    const claims = await verifyIdToken(tokens.id_token!);
    expect(claims.nonce).toBe(nonce);
    expect(claims.auth_time).toBeTypeOf('number');
    expect(claims.auth_time as number).toBeGreaterThanOrEqual(before);
    expect(claims.auth_time as number).toBeLessThanOrEqual(claims.iat!);
    expect(claims.sid).toMatch(/^[\w-]{10,}$/);
    // OIDC Core 3.1.3.6: base64url of the left half of SHA-256 of the access token (RS256).
    const digest = createHash('sha256').update(tokens.access_token, 'ascii').digest();
    expect(claims.at_hash).toBe(digest.subarray(0, digest.length / 2).toString('base64url'));
  });
});

describe('prompt', () => {
  it('prompt=login shows the login page despite a session, and signs in again', async () => {
    const { ua } = await aliceSignedIn();
    const { landing } = await startAuthorization(web, { ua, params: { prompt: 'login' } });
    const page = expectPage(landing);
    expect(pageKind(page)).toBe('login');
    const again = await authorize(web, { ua, credentials: alice, params: { prompt: 'login' } });
    expect(again.seen).toEqual({ login: 1, consent: 0 });
    expect(callbackParams(again.callback).get('code')).toBeTruthy();
  });

  it('prompt=none without a session returns login_required to the redirect_uri', async () => {
    const { landing, state } = await startAuthorization(web, { params: { prompt: 'none' } });
    const callback = expectRedirect(landing);
    expect(callback.origin + callback.pathname).toBe(`${RP}/callback`);
    const params = callbackParams(callback);
    expect(params.get('error')).toBe('login_required');
    expect(params.get('state')).toBe(state);
    expect(params.get('code')).toBeNull();
  });

  it('prompt=none with a session returns a code without showing a page', async () => {
    const { ua, tokens: first } = await aliceSignedIn();
    const result = await authorize(web, { ua, params: { prompt: 'none' } });
    expect(result.seen).toEqual({ login: 0, consent: 0 });
    const tokens = await exchange(result);
    const claims = await verifyIdToken(tokens.id_token!);
    const firstClaims = await verifyIdToken(first.id_token!);
    expect(claims.sub).toBe(firstClaims.sub);
    expect(claims.sid).toBe(firstClaims.sid);
    expect(claims.auth_time).toBe(firstClaims.auth_time);
  });

  it('prompt=none for scopes not yet consented returns consent_required', async () => {
    const { ua } = await aliceSignedIn();
    const { landing } = await startAuthorization(web, { ua, scope: 'openid profile email things:write', params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('consent_required');
  });
});

describe('max_age', () => {
  it('forces a new login once the sign-in is older, and the new auth_time is recent', async () => {
    const { ua, tokens: first } = await aliceSignedIn();
    const firstAuthTime = (await verifyIdToken(first.id_token!)).auth_time as number;
    // auth_time has whole seconds: max_age=1 is exceeded only once two seconds have ticked.
    // Until then the request goes straight back to the client; ask until the login page shows.
    await eventually(
      async () => {
        const { landing } = await startAuthorization(web, { ua, params: { max_age: '1' } });
        return isPage(landing) && pageKind(landing) === 'login';
      },
      { what: 'max_age=1 to ask for a login again', intervalMs: 250 },
    );

    const beforeLogin = Math.floor(Date.now() / 1000);
    const result = await authorize(web, { ua, credentials: alice, params: { max_age: '1' } });
    expect(result.seen).toEqual({ login: 1, consent: 0 });
    const claims = await verifyIdToken((await exchange(result)).id_token!);
    expect(claims.auth_time as number).toBeGreaterThanOrEqual(beforeLogin);
    expect(claims.auth_time as number).toBeGreaterThan(firstAuthTime);
  });

  it('does not force a login while the sign-in is younger than max_age', async () => {
    const { ua } = await aliceSignedIn();
    const result = await authorize(web, { ua, params: { max_age: '3600' } });
    expect(result.seen).toEqual({ login: 0, consent: 0 });
  });
});

describe('id_token_hint', () => {
  it('with prompt=none and the session it names, returns a code for the same user', async () => {
    const { ua, tokens: first } = await aliceSignedIn();
    const result = await authorize(web, { ua, params: { prompt: 'none', id_token_hint: first.id_token! } });
    expect(result.seen).toEqual({ login: 0, consent: 0 });
    const claims = await verifyIdToken((await exchange(result)).id_token!);
    expect(claims.sub).toBe((await verifyIdToken(first.id_token!)).sub);
  });

  it('naming another user than the session is signed in as, gives login_required with prompt=none', async () => {
    const bobs = await signIn(web, { credentials: bob, consent: 'allow' });
    const { ua } = await aliceSignedIn();
    const { landing } = await startAuthorization(web, { ua, params: { prompt: 'none', id_token_hint: bobs.tokens.id_token! } });
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('login_required');
  });
});

describe('login_hint', () => {
  it('pre-fills the login field', async () => {
    const { landing } = await startAuthorization(web, { params: { login_hint: 'alice@example.test' } });
    const page = expectPage(landing);
    expect(pageKind(page)).toBe('login');
    expect(page.$(`${LOGIN_FORM} input[name="login"]`).attr('value')).toBe('alice@example.test');
  });

  it('is escaped, not interpreted, on the page', async () => {
    const hint = '"><script>alert(1)</script>';
    const { landing } = await startAuthorization(web, { params: { login_hint: hint } });
    const page = expectPage(landing);
    expect(page.$(`${LOGIN_FORM} input[name="login"]`).attr('value')).toBe(hint);
    // The page's only scripts are its own files (show-password, the passkey button): none inline, none from the hint.
    const scripts = page.$('script').toArray();
    expect(scripts.map((el) => page.$(el).attr('src'))).toEqual([
      '/static/show_password.js',
      '/static/vendor/simplewebauthn-browser.js',
      '/static/passkeys.js',
    ]);
    expect(scripts.every((el) => page.$(el).text() === '')).toBe(true);
  });
});

describe('claims request parameter', () => {
  it('puts an essential email claim in the ID token when the email scope is granted', async () => {
    // `claims` picks among the claims of the requested scopes (claims_within_scopes.test.ts):
    // without the email scope the email claim is not released.
    const ua = new UserAgent();
    const result = await authorize(web, {
      ua,
      scope: 'openid email',
      credentials: alice,
      consent: 'allow',
      params: { claims: JSON.stringify({ id_token: { email: { essential: true } } }) },
    });
    const claims = await verifyIdToken((await exchange(result)).id_token!);
    expect(claims.email).toBe(ALICE.email);
    // Only what was asked for: no profile claims came along.
    expect(claims.name).toBeUndefined();
  });
});
