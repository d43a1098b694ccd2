import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { rpFor, credentialsOf } from '../support/factories.js';
import { ALICE } from '../support/fixtures.js';
import { authorize } from '../support/relying_party.js';
import { callbackParams, expectPage, expectRedirect, LOGIN_FORM, startAuthorization } from '../support/hosted_pages.js';
import { UserAgent } from '../support/user_agent.js';
import { sessionTtlSeconds } from '../../src/provider/session_lifetime.js';

// Sign-in sessions: "Keep me signed in" decides between a persistent and a browser-session
// cookie; the server-side session ends after SESSION_IDLE_SECONDS without use (each use renews
// it) and SESSION_MAX_SECONDS after the sign-in, whichever comes first.

const IDLE = 600;
const MAX = 900;
const alice = credentialsOf(ALICE);

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;
let sub: string;

beforeAll(async () => {
  gh = await startGatehouse({ env: { SESSION_IDLE_SECONDS: String(IDLE), SESSION_MAX_SECONDS: String(MAX) } });
  sub = (await gh.createUser(ALICE)).sub;
  rp = await rpFor(gh, 'first-party');
});
afterAll(() => gh?.close());

/** Signs in through the login form, ticking "Keep me signed in" or not; returns the session cookie's Set-Cookie. */
async function signInWith(remember: boolean): Promise<{ ua: UserAgent; setCookie: string }> {
  const ua = new UserAgent();
  const setCookies: string[] = [];
  const request = ua.request.bind(ua);
  ua.request = async (url, init) => {
    const response = await request(url, init);
    setCookies.push(...response.headers.getSetCookie());
    return response;
  };
  const { landing } = await startAuthorization(rp, { ua, redirectUri: 'http://127.0.0.1:9/fp/callback', scope: 'openid' });
  const page = expectPage(landing);
  expect(page.$(`${LOGIN_FORM} input[type="checkbox"][name="remember"]`).length).toBe(1);
  expect(page.$('label.check').text()).toContain('Keep me signed in');
  const done = await ua.submit(page, LOGIN_FORM, { ...alice, ...(remember ? { remember: 'yes' } : {}) }, 'http://127.0.0.1:9');
  expect(callbackParams(expectRedirect(done)).get('code')).toBeTruthy();
  const setCookie = setCookies.filter((c) => c.startsWith('_session=')).at(-1);
  expect(setCookie).toBeDefined();
  return { ua, setCookie: setCookie! };
}

async function sessionRow(): Promise<{ expires_in: number; login_ts: number }> {
  const { rows } = await gh.testDb.db.query<{ expires_in: number; login_ts: number }>(
    `SELECT extract(epoch FROM expires_at - now())::float8 AS expires_in, (payload ->> 'loginTs')::int AS login_ts
       FROM oidc_models WHERE model = 'Session' AND account_id = $1 ORDER BY updated_at DESC LIMIT 1`,
    [sub],
  );
  return rows[0]!;
}

const silent = (ua: UserAgent) => startAuthorization(rp, { ua, redirectUri: 'http://127.0.0.1:9/fp/callback', scope: 'openid', params: { prompt: 'none' } });

describe('sign-in session lifetime', () => {
  it('"Keep me signed in" sets a persistent cookie that lasts as long as the idle limit', async () => {
    const { setCookie } = await signInWith(true);
    const expires = /expires=([^;]+)/i.exec(setCookie)?.[1];
    expect(expires).toBeDefined();
    const seconds = (Date.parse(expires!) - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(IDLE - 30);
    expect(seconds).toBeLessThanOrEqual(IDLE + 1);
    expect(setCookie).toMatch(/httponly/i);
  });

  it('without it, the session cookie ends with the browser (no Expires, no Max-Age)', async () => {
    const { ua, setCookie } = await signInWith(false);
    expect(setCookie).not.toMatch(/expires=|max-age=/i);
    // It is still a real single sign-on session while the browser runs.
    const { landing } = await silent(ua);
    expect(callbackParams(expectRedirect(landing)).get('code')).toBeTruthy();
  });

  it('renews the server-side session on each use, up to the absolute limit counted from sign-in', async () => {
    const { ua } = await signInWith(true);
    const fresh = await sessionRow();
    expect(fresh.expires_in).toBeGreaterThan(IDLE - 30);
    expect(fresh.expires_in).toBeLessThanOrEqual(IDLE);

    // Pretend the user signed in 800 s ago and has been active since: 100 s of the absolute limit are left.
    await gh.testDb.db.query(
      `UPDATE oidc_models SET payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch FROM now())::int - 800))
        WHERE model = 'Session' AND account_id = $1`,
      [sub],
    );
    const { landing } = await silent(ua);
    expect(callbackParams(expectRedirect(landing)).get('code')).toBeTruthy();
    const capped = await sessionRow();
    expect(capped.expires_in).toBeGreaterThan(MAX - 800 - 30);
    expect(capped.expires_in).toBeLessThanOrEqual(MAX - 800 + 2); // whole seconds on both sides
  });

  it('asks to sign in again once the session has expired', async () => {
    const { ua } = await signInWith(true);
    await gh.testDb.db.query(`UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE model = 'Session' AND account_id = $1`, [sub]);
    const { landing } = await silent(ua);
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('login_required');
    const again = await authorize(rp, { ua, redirectUri: 'http://127.0.0.1:9/fp/callback', scope: 'openid', credentials: alice });
    expect(again.seen.login).toBe(1);
  });
});

describe('sessionTtlSeconds', () => {
  const lifetime = { idleSeconds: 600, maxSeconds: 900 };
  it('is the idle limit early in a session', () => {
    expect(sessionTtlSeconds(1000, lifetime, 1100)).toBe(600);
  });
  it('is what is left of the absolute limit near its end', () => {
    expect(sessionTtlSeconds(1000, lifetime, 1800)).toBe(100);
  });
  it('never goes below one second (the library refuses less)', () => {
    expect(sessionTtlSeconds(1000, lifetime, 5000)).toBe(1);
  });
});
