import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasskeysRepo } from '../../src/storage/passkeys_repo.js';
import { createPasskeyCeremonies, type PasskeyCeremonies } from '../../src/passkeys/passkey_ceremonies.js';
import type { User } from '../../src/accounts/users_repo.js';
import { buildUser, startGatehouseWithUsers, rpFor } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { availableBackends } from '../support/storage_backends.js';
import { ALICE, BOB, RP } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import { LOGIN_FORM, callbackParams, expectNoStackTrace, expectPage, expectRedirect, startAuthorization, visibleText } from '../support/hosted_pages.js';
import type { UserAgent } from '../support/user_agent.js';
import { assert, newKey, register, type SoftCredential } from '../support/soft_authenticator.js';

// Passkeys over HTTP on both databases, with a software authenticator: the responses a browser
// would never send (a replayed assertion, an unknown passkey, another origin or RP id, a forged
// signature, no user verification, garbage) each get a 4xx page saying why (never a 500), are
// audited as passkey.failed and throttled; the honest response signs in, completes the second
// step after a password (that account's passkeys only) and steps up a password-only session.
// Registration refusals are checked on the ceremony itself.

const FP_CALLBACK = `${RP}/fp/callback`;
const CAROL = buildUser();

describe.each(availableBackends())('passkey refusals on %s', (backend) => {
  let gh: RunningGatehouse;
  let alice: User;
  let bob: User;
  let carol: User;
  let rp: oidc.Configuration;
  let ceremonies: PasskeyCeremonies;
  let credential: SoftCredential;

  beforeAll(async () => {
    ({
      gh,
      users: [alice, bob, carol],
    } = (await startGatehouseWithUsers([ALICE, BOB, CAROL], { backend, issuerHost: 'localhost', env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '8' } })) as {
      gh: RunningGatehouse;
      users: [User, User, User];
    });
    rp = await rpFor(gh, 'first-party');
    ceremonies = createPasskeyCeremonies({ issuer: gh.issuer, rpName: 'Gatehouse', passkeys: createPasskeysRepo(gh.testDb.db) });
    const options = await ceremonies.registrationOptions(alice, 'test-session');
    const made = register(options, gh.issuer);
    const added = await ceremonies.register(alice.sub, 'test-session', made.response, 'Soft key');
    expect(added).toMatchObject({ ok: true, passkey: { name: 'Soft key', deviceType: 'singleDevice', backedUp: false } });
    credential = made.credential;
  });
  afterAll(async () => {
    await gh?.close();
  });

  /** A login page, its passkey form's CSRF token and a fresh challenge for it. */
  async function loginWithChallenge(ua?: UserAgent) {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK, ...(ua ? { ua } : {}) });
    const page = expectPage(started.landing);
    const form = page.$('form[data-passkey="sign-in"]');
    const action = new URL(form.attr('action')!, gh.issuer).href;
    const csrf = String(form.find('input[name="csrf_token"]').val());
    const res = await started.ua.request(new URL(form.attr('data-options')!, gh.issuer).href, { method: 'POST', json: { csrf_token: csrf } });
    expect(res.status).toBe(200);
    const options = (await res.json()) as { challenge: string; rpId: string; allowCredentials?: unknown[] };
    expect(options.rpId).toBe('localhost');
    return { ua: started.ua, action, csrf, options };
  }

  async function post(flow: Awaited<ReturnType<typeof loginWithChallenge>>, response: unknown) {
    const body = typeof response === 'string' ? response : JSON.stringify(response);
    return flow.ua.follow(flow.action, { form: { csrf_token: flow.csrf, response: body } }, RP);
  }

  function refused(landing: Awaited<ReturnType<typeof post>>, status: number, message: RegExp) {
    const page = expectPage(landing);
    expect(page.status).toBe(status);
    expect(page.$('[role="alert"]').text()).toMatch(message);
    expect(visibleText(page)).toContain('Sign in');
    expectNoStackTrace(page);
  }

  const failures = async () =>
    (await gh.testDb.db.query<{ reason: string }>(`SELECT details->>'reason' AS reason FROM audit_events WHERE event = 'passkey.failed' ORDER BY id`)).rows.map(
      (r) => r.reason,
    );

  it('signs in with an honest assertion; the same assertion again is refused (the challenge was used)', async () => {
    const flow = await loginWithChallenge();
    const response = assert(credential, flow.options, gh.issuer);
    expect(callbackParams(expectRedirect(await post(flow, response))).get('code')).toBeTruthy();

    const again = await loginWithChallenge();
    refused(await post(again, response), 400, /expired or was already used/);
  });

  it('refuses an unknown passkey, another origin, another RP id, a forged signature, no user verification and garbage', async () => {
    const stranger = register({ challenge: 'x', rp: { id: 'localhost' }, user: { id: 'someone' } }, gh.issuer).credential;
    let flow = await loginWithChallenge();
    refused(await post(flow, assert(stranger, flow.options, gh.issuer)), 400, /not registered here/);

    flow = await loginWithChallenge();
    refused(await post(flow, assert(credential, flow.options, gh.issuer, { origin: 'https://evil.example' })), 400, /could not be verified/);
    flow = await loginWithChallenge();
    refused(await post(flow, assert(credential, flow.options, gh.issuer, { rpId: 'evil.example' })), 400, /could not be verified/);
    flow = await loginWithChallenge();
    refused(await post(flow, assert(credential, flow.options, gh.issuer, { signWith: newKey() })), 400, /could not be verified/);
    flow = await loginWithChallenge();
    refused(await post(flow, assert(credential, flow.options, gh.issuer, { userVerified: false })), 400, /could not be verified/);
    flow = await loginWithChallenge();
    refused(await post(flow, '{"id":'), 400, /could not be read/);
    flow = await loginWithChallenge();
    refused(await post(flow, { id: credential.id, type: 'public-key' }), 400, /could not be read/);

    expect(await failures()).toEqual(expect.arrayContaining(['expired_challenge', 'unknown_credential', 'not_verified', 'malformed']));
    // The honest passkey still works after all that.
    flow = await loginWithChallenge();
    expect(callbackParams(expectRedirect(await post(flow, assert(credential, flow.options, gh.issuer)))).get('code')).toBeTruthy();
  });

  it('refuses a response without the CSRF token, and options for another interaction', async () => {
    const flow = await loginWithChallenge();
    const page = expectPage(await flow.ua.follow(flow.action, { form: { response: JSON.stringify(assert(credential, flow.options, gh.issuer)) } }, RP));
    expect(page.status).toBe(403);
    expectNoStackTrace(page);
    // A challenge issued to one interaction does not sign in another.
    const other = await loginWithChallenge();
    refused(await post(other, assert(credential, flow.options, gh.issuer)), 400, /expired or was already used/);
  });

  it('refuses registrations from another origin, without user verification, replayed, or for another session', async () => {
    const bound = async (binding: string) => ceremonies.registrationOptions(alice, binding);
    let options = await bound('s1');
    expect(await ceremonies.register(alice.sub, 's1', register(options, gh.issuer, { origin: 'http://127.0.0.1:1' }).response, 'x')).toMatchObject({
      ok: false,
      reason: 'not_verified',
    });
    options = await bound('s1');
    expect(await ceremonies.register(alice.sub, 's1', register(options, gh.issuer, { userVerified: false }).response, 'x')).toMatchObject({
      ok: false,
      reason: 'not_verified',
    });
    options = await bound('s1');
    const made = register(options, gh.issuer, { synced: true });
    expect(await ceremonies.register(alice.sub, 's2', made.response, 'x')).toMatchObject({ ok: false, reason: 'expired_challenge' });
    options = await bound('s1');
    const synced = register(options, gh.issuer, { synced: true });
    expect(await ceremonies.register(alice.sub, 's1', synced.response, 'Phone')).toMatchObject({
      ok: true,
      passkey: { deviceType: 'multiDevice', backedUp: true },
    });
    expect(await ceremonies.register(alice.sub, 's1', synced.response, 'Phone')).toMatchObject({ ok: false, reason: 'expired_challenge' });
  });

  it("counts refused passkeys in the account's sign-in throttle: locked at the limit, even the right passkey waits", async () => {
    // One failure is counted already (the previous test's cross-interaction response).
    for (let i = 0; i < 6; i++) {
      const flow = await loginWithChallenge();
      refused(await post(flow, assert(credential, flow.options, gh.issuer, { signWith: newKey() })), 400, /could not be verified/);
    }
    let flow = await loginWithChallenge();
    refused(await post(flow, assert(credential, flow.options, gh.issuer, { signWith: newKey() })), 429, /Too many failed sign-ins/);
    flow = await loginWithChallenge();
    const locked = expectPage(await post(flow, assert(credential, flow.options, gh.issuer)));
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it("at the second step after the password, accepts only that account's passkey: amr pwd, hwk, mfa", async () => {
    const options = await ceremonies.registrationOptions(bob, 'bob-session');
    const made = register(options, gh.issuer);
    expect(await ceremonies.register(bob.sub, 'bob-session', made.response, 'Bob key')).toMatchObject({ ok: true });
    const bobKey = made.credential;

    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const codePage = expectPage(await started.ua.submit(expectPage(started.landing), LOGIN_FORM, { login: BOB.username, password: BOB.password }, RP));
    expect(codePage.$('input[name="code"]').length).toBe(1);
    const form = codePage.$('form[data-passkey="second-factor"]');
    const flow = {
      ua: started.ua,
      action: new URL(form.attr('action')!, gh.issuer).href,
      csrf: String(form.find('input[name="csrf_token"]').val()),
    };
    const challenge = async () => {
      const res = await flow.ua.request(new URL(form.attr('data-options')!, gh.issuer).href, { method: 'POST', json: { csrf_token: flow.csrf } });
      return (await res.json()) as { challenge: string; rpId: string; allowCredentials: { id: string }[] };
    };
    let bobOptions = await challenge();
    // Only Bob's passkeys may answer; Alice's (a valid passkey of another account) is refused.
    expect(bobOptions.allowCredentials.map((c) => c.id)).toEqual([bobKey.id]);
    const wrong = expectPage(await post({ ...flow, options: bobOptions }, assert(credential, bobOptions, gh.issuer)));
    expect(wrong.status).toBe(400);
    expect(wrong.$('[role="alert"]').text()).toMatch(/does not belong to this account/);
    expect(wrong.$('input[name="code"]').length).toBe(1);

    bobOptions = await challenge();
    const redirect = expectRedirect(await post({ ...flow, options: bobOptions }, assert(bobKey, bobOptions, gh.issuer)));
    const tokens = await oidc.authorizationCodeGrant(rp, redirect, {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    expect(tokens.claims()).toMatchObject({ sub: bob.sub, acr: 'mfa' });
    expect(tokens.claims()?.amr).toEqual(expect.arrayContaining(['pwd', 'hwk', 'mfa']));
  });

  it('steps up a password-only session with a passkey added since (acr_values=mfa)', async () => {
    const first = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    expectRedirect(await first.ua.submit(expectPage(first.landing), LOGIN_FORM, { login: CAROL.username, password: CAROL.password }, RP));
    const options = await ceremonies.registrationOptions(carol, 'carol-session');
    const made = register(options, gh.issuer, { synced: true });
    expect(await ceremonies.register(carol.sub, 'carol-session', made.response, 'Phone')).toMatchObject({ ok: true });

    const started = await startAuthorization(rp, { ua: first.ua, redirectUri: FP_CALLBACK, params: { acr_values: 'mfa' } });
    const codePage = expectPage(started.landing);
    expect(visibleText(codePage)).toContain('Confirm it is you');
    const form = codePage.$('form[data-passkey="second-factor"]');
    const csrf = String(form.find('input[name="csrf_token"]').val());
    const res = await started.ua.request(new URL(form.attr('data-options')!, gh.issuer).href, { method: 'POST', json: { csrf_token: csrf } });
    const challenge = (await res.json()) as { challenge: string; rpId: string };
    const flow = { ua: started.ua, action: new URL(form.attr('action')!, gh.issuer).href, csrf, options: challenge };
    const redirect = expectRedirect(await post(flow, assert(made.credential, challenge, gh.issuer, { synced: true })));
    const tokens = await oidc.authorizationCodeGrant(rp, redirect, {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    expect(tokens.claims()).toMatchObject({ sub: carol.sub, acr: 'mfa' });
    // A synced passkey is a software key (swk).
    expect(tokens.claims()?.amr).toEqual(expect.arrayContaining(['pwd', 'swk', 'mfa']));
  });
});
