import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE, BOB, RP } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import type { Page } from '../support/user_agent.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind, startAuthorization, visibleText, type Started } from '../support/hosted_pages.js';

// The login page over HTTP: its form, what a failed sign-in looks like, and who may sign in.
// The first-party client skips consent, so a good sign-in goes straight back with a code.

let gh: RunningGatehouse;
let rp: oidc.Configuration;

const FP_CALLBACK = `${RP}/fp/callback`;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE, BOB]));
  await gh.createUser({ username: 'carol', email: 'carol@example.test', name: 'Carol', password: 'carol has a long password' });
  await gh.testDb.db.query(`UPDATE users SET disabled = true WHERE username = 'carol'`);
  rp = await rpFor(gh, 'first-party');
});
afterAll(() => gh?.close());

async function loginPage(): Promise<Started & { page: Page }> {
  const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return { ...started, page };
}

async function signInAs(login: string, password: string) {
  const started = await loginPage();
  return { ...started, landing: await started.ua.submit(started.page, LOGIN_FORM, { login, password }, RP) };
}

/** The RP's code exchange; returns the verified ID token's subject. */
async function subjectOf(result: Awaited<ReturnType<typeof signInAs>>): Promise<string> {
  const tokens = await oidc.authorizationCodeGrant(rp, expectRedirect(result.landing), {
    pkceCodeVerifier: result.codeVerifier,
    expectedState: result.state,
    expectedNonce: result.nonce,
    idTokenExpected: true,
  });
  return tokens.claims()!.sub;
}

function errorMessage(page: Page): string {
  return page.$('[role="alert"]').text().trim();
}

describe('login page', () => {
  it('is a POST form with inputs named login and password, never cached', async () => {
    const { page } = await loginPage();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toContain('no-store');
    const form = page.$(LOGIN_FORM);
    expect(form).toHaveLength(1);
    expect(form.attr('method')?.toLowerCase()).toBe('post');
    expect(form.find('input[name="login"]')).toHaveLength(1);
    expect(form.find('input[name="password"][type="password"]')).toHaveLength(1);
    expect(form.find('button[type="submit"], input[type="submit"]').length).toBeGreaterThan(0);
  });

  it('answers an unknown user and a wrong password with the same status and the same words', async () => {
    const unknown = expectPage((await signInAs('nobody-by-this-name', ALICE.password)).landing);
    const wrong = expectPage((await signInAs(ALICE.username, 'not the right password')).landing);
    const unknownEmail = expectPage((await signInAs('nobody@example.test', ALICE.password)).landing);

    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
    expect(wrong.status).toBe(unknown.status);
    expect(unknownEmail.status).toBe(unknown.status);

    expect(errorMessage(unknown)).not.toBe('');
    expect(errorMessage(wrong)).toBe(errorMessage(unknown));
    expect(errorMessage(unknownEmail)).toBe(errorMessage(unknown));
    // The whole visible page differs only in the echoed login, never in why it failed.
    expect(visibleText(wrong).replace(ALICE.username, 'X')).toBe(visibleText(unknown).replace('nobody-by-this-name', 'X'));

    // The page is the login form again, ready for another try, with what was typed kept.
    expect(pageKind(wrong)).toBe('login');
    expect(wrong.$(`${LOGIN_FORM} input[name="login"]`).attr('value')).toBe(ALICE.username);
    expect(wrong.$(`${LOGIN_FORM} input[name="password"]`).attr('value') ?? '').toBe('');
  });

  it('lets the user try again on the same page after a wrong password', async () => {
    const { ua, page, state } = await loginPage();
    const retry = expectPage(await ua.submit(page, LOGIN_FORM, { login: ALICE.username, password: 'wrong' }, RP));
    const callback = expectRedirect(await ua.submit(retry, LOGIN_FORM, { login: ALICE.username, password: ALICE.password }, RP));
    expect(callbackParams(callback).get('code')).toBeTruthy();
    expect(callbackParams(callback).get('state')).toBe(state);
  });

  it('refuses a disabled user, even with the right password', async () => {
    const { landing } = await signInAs('carol', 'carol has a long password');
    const page = expectPage(landing);
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expect(pageKind(page)).toBe('login');
    expect(errorMessage(page)).not.toBe('');

    // and a wrong password for a disabled user says no more than for anyone else
    const wrong = expectPage((await signInAs('carol', 'not carols password')).landing);
    const unknown = expectPage((await signInAs('nobody-at-all', 'not carols password')).landing);
    expect(wrong.status).toBe(unknown.status);
    expect(errorMessage(wrong)).toBe(errorMessage(unknown));
  });

  it('signs in by email address', async () => {
    const { landing, state } = await signInAs(ALICE.email, ALICE.password);
    const callback = expectRedirect(landing);
    expect(callback.href.startsWith(FP_CALLBACK)).toBe(true);
    expect(callbackParams(callback).get('code')).toBeTruthy();
    expect(callbackParams(callback).get('state')).toBe(state);
  });

  it('signs in by email address in another case', async () => {
    const callback = expectRedirect((await signInAs(BOB.email.toUpperCase(), BOB.password)).landing);
    expect(callbackParams(callback).get('code')).toBeTruthy();
  });

  it('signs in by username, case-insensitively, as the same account as by email', async () => {
    const alice = await gh.testDb.db.query<{ sub: string }>(`SELECT sub FROM users WHERE username = 'alice'`);
    expect(await subjectOf(await signInAs(ALICE.username.toUpperCase(), ALICE.password))).toBe(alice.rows[0]!.sub);
    expect(await subjectOf(await signInAs('Alice', ALICE.password))).toBe(alice.rows[0]!.sub);
    expect(await subjectOf(await signInAs(ALICE.email.toUpperCase(), ALICE.password))).toBe(alice.rows[0]!.sub);
  });

  it('does not treat the password case-insensitively', async () => {
    const page = expectPage((await signInAs(ALICE.username, ALICE.password.toUpperCase())).landing);
    expect(pageKind(page)).toBe('login');
  });
});
