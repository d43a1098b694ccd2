import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DEVICE_CODE_GRANT, gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import type { User } from '../../src/accounts/users_repo.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { API, testConfig } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';
import { UserAgent } from '../support/user_agent.js';
import { enrolTotp, totpCode } from '../support/mfa.js';
import { ALLOW_FORM, CODE_FORM, DENY_FORM, allowDevice, asPage, enterUserCode, headline } from '../support/device_pages.js';

// The device authorization grant (RFC 8628) with openid-client as the device: /device/auth,
// the hosted /device pages over HTTP (code typed in any case, with or without its dash, then
// the confirmation naming the client and its scopes, then sign-in, second factor and consent as
// for any sign-in), and the token endpoint's answers to polling: authorization_pending,
// slow_down, access_denied, expired_token. Tokens are verified with the JWKS.

const TV = {
  client_id: 'tv',
  client_name: 'Living Room TV',
  token_endpoint_auth_method: 'none',
  grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
  scope: 'openid profile email offline_access things:read',
} as const;

function deviceConfig() {
  const base = testConfig();
  return gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, TV] });
}

const ALICE = buildUser({ name: 'Alice Device' });
const TOTP_USER = buildUser();
const BOB = buildUser();
// Every browser here comes from its own address (TRUST_PROXY=1 believes one X-Forwarded-For hop),
// so the per-address lockout of wrong codes is tested without touching the other tests.
let nextAddress = 10;
class BrowserAt extends UserAgent {
  readonly ip = `192.0.2.${String(nextAddress++)}`;
  constructor(private readonly extraHeaders: Record<string, string> = {}) {
    super();
  }
  override request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'x-forwarded-for': this.ip, ...this.extraHeaders, ...init.headers } });
  }
}

async function verifiedIdToken(gh: RunningGatehouse, idToken: string | undefined) {
  const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
  return (await jwtVerify(idToken!, jwks, { issuer: gh.issuer, audience: 'tv' })).payload;
}

/** One poll of the token endpoint, as a device sends it (public client: client_id in the body). */
async function pollOnce(gh: RunningGatehouse, deviceCode: string) {
  const response = await fetch(`${gh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: 'tv' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function pollError(config: oidc.Configuration, started: oidc.DeviceAuthorizationResponse): Promise<string> {
  const error = await oidc.pollDeviceAuthorizationGrant(config, started).then(
    () => expect.fail('the device got tokens'),
    (e: unknown) => e as { error?: string },
  );
  return String(error.error);
}

const auditRows = async (gh: RunningGatehouse, event: string) =>
  (
    await gh.testDb.db.query<{ account_id: string | null; client_id: string; details: Record<string, unknown> }>(
      'SELECT account_id, client_id, details FROM audit_events WHERE event = $1',
      [event],
    )
  ).rows;

describe('device authorization grant', () => {
  let gh: RunningGatehouse;
  let users: User[];
  let tv: oidc.Configuration;
  let totpSecret: string;

  beforeAll(async () => {
    ({ gh, users } = await startGatehouseWithUsers([ALICE, TOTP_USER, BOB], {
      config: deviceConfig(),
      env: { TRUST_PROXY: '1', DEVICE_POLL_INTERVAL_SECONDS: '1', DEVICE_USER_CODE_MAX_FAILURES_PER_IP: '3', DEVICE_USER_CODE_WINDOW_SECONDS: '600' },
    }));
    tv = await discover(gh.issuer, 'tv');
    totpSecret = await enrolTotp(gh, users[1]!.sub);
  });
  afterAll(() => gh?.close());

  it('is in discovery, and hands out short unambiguous user codes with a poll interval', async () => {
    const meta = tv.serverMetadata();
    expect(meta.device_authorization_endpoint).toBe(`${gh.issuer}/device/auth`);
    expect(meta.grant_types_supported).toContain(DEVICE_CODE_GRANT);
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(started.verification_uri).toBe(`${gh.issuer}/device`);
    expect(started.verification_uri_complete).toBe(`${gh.issuer}/device?user_code=${started.user_code}`);
    expect(started.interval).toBe(1);
    expect(started.expires_in).toBeGreaterThan(500);
  });

  it('approved: code typed in lower case with a space, confirmation names the client and scopes, login and consent, then tokens naming the user', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile email things:read' });
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started);
    const ua = new BrowserAt();
    const typed = started.user_code.toLowerCase().replace('-', ' ');
    const confirm = await enterUserCode(ua, gh.issuer, typed);
    expect(confirm.status).toBe(200);
    expect(confirm.$('h1').text()).toBe('Connect Living Room TV?');
    expect(confirm.$('.user-code-shown').text()).toBe(started.user_code);
    const listed = confirm.$('.scopes li').text();
    expect(listed).toContain('See your email address');
    expect(listed).toContain('Things API');
    expect(confirm.$(`${ALLOW_FORM} button`).text()).toBe('Allow');
    expect(confirm.$(`${DENY_FORM} button`).text()).toBe('Deny');
    // The library's CSRF token rides in each form.
    expect(confirm.$(`${ALLOW_FORM} input[name="xsrf"]`).attr('value')).toMatch(/^[0-9a-f]{48}$/);

    const { page, seen } = await allowDevice(ua, confirm, { credentials: credentialsOf(ALICE), consent: 'allow' });
    expect(seen).toEqual(['login', 'consent']);
    expect(page.status).toBe(200);
    expect(headline(page)).toBe('Device connected Living Room TV is now signed in. You can close this page and return to your device.');

    const tokens = await polling;
    const claims = await verifiedIdToken(gh, tokens.id_token);
    expect(claims.sub).toBe(users[0]!.sub);
    expect(claims.amr).toEqual(['pwd']);
    // things:read was asked for: the access token is the Things API's (RFC 9068), for the same user.
    const access = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
    expect(access.payload).toMatchObject({ sub: users[0]!.sub, client_id: 'tv', scope: 'things:read' });
    expect(await auditRows(gh, 'device.approved')).toEqual([expect.objectContaining({ account_id: users[0]!.sub, client_id: 'tv' })]);

    // A code works once: typed again it is refused in words.
    const again = await enterUserCode(new BrowserAt(), gh.issuer, started.user_code);
    expect(again.$('[role="alert"]').text()).toBe('That code was already used. Start again on your device to get a new one.');
  });

  it('approved with a second factor: the code form shows after the password, and the ID token says otp', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started);
    const ua = new BrowserAt();
    const confirm = await enterUserCode(ua, gh.issuer, started.user_code);
    const { page, seen } = await allowDevice(ua, confirm, {
      credentials: credentialsOf(TOTP_USER),
      secondFactor: () => totpCode(totpSecret),
      consent: 'allow',
    });
    expect(seen).toEqual(['login', 'mfa', 'consent']);
    expect(page.$('h1').text()).toBe('Device connected');
    const claims = await verifiedIdToken(gh, (await polling).id_token);
    expect(claims.sub).toBe(users[1]!.sub);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
  });

  it('offline_access (with prompt=consent, as for any client): the device also gets a refresh token, which rotates', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid offline_access', prompt: 'consent' });
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started);
    const ua = new BrowserAt();
    const { seen } = await allowDevice(ua, await enterUserCode(ua, gh.issuer, started.user_code), { credentials: credentialsOf(ALICE), consent: 'allow' });
    expect(seen).toEqual(['login', 'consent']);
    const tokens = await polling;
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(tv, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  });

  it('prefilled from verification_uri_complete: the input page shows the code, Continue leads to the confirmation', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const ua = new BrowserAt();
    const input = asPage(await ua.follow(started.verification_uri_complete!));
    expect(input.status).toBe(200);
    // No inline script (the CSP allows none): only the pages' own static ones.
    expect(input.$('script:not([src^="/static/"])').length).toBe(0);
    expect(input.$(`${CODE_FORM} input[name="user_code"]`).attr('value')).toBe(started.user_code);
    const confirm = asPage(await ua.submit(input, CODE_FORM));
    expect(confirm.$('h1').text()).toBe('Connect Living Room TV?');
  });

  it('denied on the confirmation: the done page says so and the device gets access_denied', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const ua = new BrowserAt();
    const confirm = await enterUserCode(ua, gh.issuer, started.user_code);
    const done = asPage(await ua.submit(confirm, DENY_FORM));
    expect(done.status).toBe(200);
    expect(headline(done)).toBe('Device not connected Living Room TV was not given access. It will show that the sign-in was denied. You can close this page.');
    expect(await pollError(tv, started)).toBe('access_denied');
    expect(await auditRows(gh, 'device.denied')).toContainEqual(expect.objectContaining({ client_id: 'tv', details: { reason: 'access_denied' } }));
  });

  it('denied on the consent page: access_denied too', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email' });
    const ua = new BrowserAt();
    const confirm = await enterUserCode(ua, gh.issuer, started.user_code);
    const { page, seen } = await allowDevice(ua, confirm, { credentials: credentialsOf(BOB), consent: 'deny' });
    expect(seen).toEqual(['login', 'consent']);
    expect(page.$('h1').text()).toBe('Device not connected');
    expect(await pollError(tv, started)).toBe('access_denied');
  });

  it('polled too fast: slow_down; at the interval: authorization_pending again', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    expect(await pollOnce(gh, started.device_code)).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
    expect(await pollOnce(gh, started.device_code)).toEqual({ status: 400, body: expect.objectContaining({ error: 'slow_down' }) });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await pollOnce(gh, started.device_code)).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
    // The device code itself is never stored in the limits table.
    const { rows } = await gh.testDb.db.query<{ key: string }>(`SELECT key FROM login_limits WHERE key LIKE 'device_poll:%'`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.key).join()).not.toContain(started.device_code);
  });

  it('wrong codes: refused in words; too many from one address lock it out with a 429 page, even for the right code; other addresses unaffected', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const guesser = new BrowserAt();
    for (const guess of ['BBBB-BBBB', 'bcdf-ghjk', 'ZZZZ ZZZZ']) {
      const refused = await enterUserCode(guesser, gh.issuer, guess);
      expect(refused.status).toBe(200);
      expect(refused.$('[role="alert"]').text()).toBe('That code is not right. Check the code on your device and try again.');
      expect(refused.$(`${CODE_FORM} input[name="user_code"]`).attr('value')).toBe(guess);
    }
    // The guesser's next try is the right code (a lucky guess): refused unchecked.
    const locked = await enterUserCode(guesser, gh.issuer, started.user_code);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(locked.$('h1').text()).toBe('Too many wrong codes');
    expect(locked.$('[role="alert"]').text()).toBe('Codes from this network were refused too many times. Try again in 10 minutes.');
    expect(locked.$(ALLOW_FORM).length).toBe(0);
    expect(await auditRows(gh, 'device.user_code_locked')).toEqual([expect.objectContaining({ details: { lockout_seconds: 600 } })]);

    // The owner of the code, elsewhere, still connects the device.
    const owner = await enterUserCode(new BrowserAt(), gh.issuer, started.user_code);
    expect(owner.$('h1').text()).toBe('Connect Living Room TV?');
  });

  it('the stored row key of a device code is no device code: presented at the token endpoint it is invalid_grant', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const ua = new BrowserAt();
    await allowDevice(ua, await enterUserCode(ua, gh.issuer, started.user_code), { credentials: credentialsOf(ALICE), consent: 'allow' });
    const { rows } = await gh.testDb.db.query<{ id: string }>(`SELECT id FROM oidc_models WHERE model = 'DeviceCode' AND payload ->> 'userCode' = $1`, [
      started.user_code.replace('-', ''),
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).not.toBe(started.device_code);
    for (const forged of [`~${rows[0]!.id}`, rows[0]!.id]) {
      expect(await pollOnce(gh, forged)).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_grant' }) });
    }
    expect((await pollOnce(gh, started.device_code)).body).toMatchObject({ token_type: 'Bearer' });
  });

  it('hostile input at /device: a plain page in words (400 or 200), never a 500, a stack or markup echoed', async () => {
    const ua = new BrowserAt();
    const input = asPage(await ua.follow(`${gh.issuer}/device?user_code=${encodeURIComponent('<script>alert(1)</script>')}`));
    expect(input.status).toBe(200);
    expect(input.body).not.toContain('<script>alert(1)</script>');
    const xsrf = input.$(`${CODE_FORM} input[name="xsrf"]`).attr('value')!;
    // Raw bodies (a field twice, a NUL, 5000 letters), with this browser's session cookie or none.
    const post = async (body: string, withSession: boolean) =>
      fetch(`${gh.issuer}/device`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'text/html',
          'x-forwarded-for': ua.ip,
          cookie: withSession ? await ua.jar.getCookieString(gh.issuer) : '',
        },
        body,
      });
    for (const [body, withSession] of [
      [`xsrf=${xsrf}&user_code=AAAA&user_code=BBBB`, true],
      [`xsrf=${xsrf}&user_code=${'B'.repeat(5000)}`, true],
      [`xsrf=${xsrf}&user_code=%00BCDF`, true],
      [`xsrf=${xsrf}&user_code=%F0%9F%98%80`, true],
      [`user_code=BCDF-GHJK`, false],
    ] as const) {
      const response = await post(body, withSession);
      const text = await response.text();
      expect([200, 400]).toContain(response.status);
      expect(text).toContain('Connect a device');
      expect(text).not.toMatch(/\bat [\w.<>]+ \(|node_modules|Error: /);
    }
  });

  it('a form posted without a session (cookie lost or expired): shown again, and that form works', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const ua = new BrowserAt();
    const refused = asPage(await ua.follow(`${gh.issuer}/device`, { method: 'POST', form: { user_code: started.user_code } }));
    expect(refused.status).toBe(400);
    expect(refused.$('[role="alert"]').text()).toBe('This form has expired. Enter the code again.');
    const confirm = asPage(await ua.submit(refused, CODE_FORM, { user_code: started.user_code }));
    expect(confirm.$('h1').text()).toBe('Connect Living Room TV?');
  });

  it("speaks the reader's language: Accept-Language at /device, the device's ui_locales once its code is known", async () => {
    const german = new BrowserAt({ 'accept-language': 'de-DE,de;q=0.9' });
    const wrong = await enterUserCode(german, gh.issuer, 'BBBB-BBBB');
    expect(wrong.$('h1').text()).toBe('Gerät verbinden');
    expect(wrong.$('html').attr('lang')).toBe('de');
    expect(wrong.$('[role="alert"]').text()).toBe('Dieser Code stimmt nicht. Prüfen Sie den Code auf Ihrem Gerät und versuchen Sie es erneut.');
    // The device asked for French: its confirmation is in French, whatever the browser prefers.
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid', ui_locales: 'fr' });
    const confirm = await enterUserCode(german, gh.issuer, started.user_code);
    expect(confirm.$('h1').text()).toBe('Connecter Living Room TV\u00a0?');
    expect(confirm.$(`${ALLOW_FORM} button`).text()).toBe('Autoriser');
    const done = asPage(await german.submit(confirm, DENY_FORM));
    expect(done.$('h1').text()).toBe('Appareil non connecté');
  });

  it('a form without the library CSRF token is refused and nothing is approved', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const ua = new BrowserAt();
    const confirm = await enterUserCode(ua, gh.issuer, started.user_code);
    const forged = asPage(await ua.submit(confirm, ALLOW_FORM, { xsrf: 'forged' }));
    expect(forged.status).toBe(400);
    expect(forged.$('[role="alert"]').text()).toBe('This form has expired. Enter the code again.');
    expect(await pollOnce(gh, started.device_code)).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
  });
});

describe('device codes expire', () => {
  let gh: RunningGatehouse;
  let tv: oidc.Configuration;

  beforeAll(async () => {
    ({ gh } = await startGatehouseWithUsers([], { config: deviceConfig(), env: { DEVICE_CODE_TTL_SECONDS: '1', DEVICE_POLL_INTERVAL_SECONDS: '1' } }));
    tv = await discover(gh.issuer, 'tv');
  });
  afterAll(() => gh?.close());

  it('after DEVICE_CODE_TTL_SECONDS: the device gets expired_token and /device says the code expired', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    expect(started.expires_in).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await pollOnce(gh, started.device_code)).toEqual({ status: 400, body: expect.objectContaining({ error: 'expired_token' }) });
    const page = await enterUserCode(new UserAgent(), gh.issuer, started.user_code);
    expect(page.$('[role="alert"]').text()).toBe('That code has expired. Start again on your device to get a new one.');
  });
});
