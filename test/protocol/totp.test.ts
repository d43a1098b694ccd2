import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { RP } from '../support/fixtures.js';
import { signIn, oidc } from '../support/relying_party.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { enrolTotp, secondFactorsOf, totpCode } from '../support/mfa.js';
import type { User } from '../../src/accounts/users_repo.js';

// Signing in with an authenticator app (TOTP) or a recovery code after the password: the code
// form, codes refused when wrong or used before, throttled like passwords, and the ID token's
// amr/acr (RFC 8176), verified with the JWKS.

const CODE_FORM = 'form[action$="/mfa"]';
const PLAIN = buildUser();
const TOTP_USER = buildUser();
const THROTTLED = buildUser();
const RECOVERY = buildUser();
const MAX_FAILURES = 3;

let gh: RunningGatehouse;
let users: User[];
let rp: oidc.Configuration;

beforeAll(async () => {
  ({ gh, users } = await startGatehouseWithUsers([PLAIN, TOTP_USER, THROTTLED, RECOVERY], {
    env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES), LOGIN_LOCKOUT_SECONDS: '60' },
  }));
  rp = await rpFor(gh, 'web');
});
afterAll(() => gh?.close());

const subOf = (user: { username: string }) => users.find((u) => u.username === user.username)!.sub;

async function verifiedIdToken(idToken: string | undefined) {
  const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
  return (await jwtVerify(idToken!, jwks, { issuer: gh.issuer, audience: 'web' })).payload;
}

/** Signs in with the password and lands on the code form. */
async function atCodeForm(user: { username: string; password: string }) {
  const started = await startAuthorization(rp);
  const login = expectPage(started.landing);
  const page = expectPage(await started.ua.submit(login, LOGIN_FORM, credentialsOf(user), RP));
  expect(page.status).toBe(200);
  expect(page.$(`${CODE_FORM} input[name="code"]`)).toHaveLength(1);
  expect(page.$(`${CODE_FORM} input[name="csrf_token"]`).attr('value')).toBeTruthy();
  // The password step's result is kept server-side: nothing in the form says who signed in.
  expect(
    page
      .$(`${CODE_FORM} input[type="hidden"]`)
      .map((_i, el) => page.$(el).attr('name'))
      .get(),
  ).toEqual(['csrf_token']);
  return { ua: started.ua, page };
}

describe('discovery', () => {
  it('lists the acr values: pwd and mfa', async () => {
    const discovery = (await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.acr_values_supported).toEqual(['pwd', 'mfa']);
  });
});

describe('a user without a second factor', () => {
  it('signs in with the password alone: amr pwd, acr pwd', async () => {
    const { tokens, seen } = await signIn(rp, { credentials: credentialsOf(PLAIN), consent: 'allow' });
    expect(seen.secondFactor).toBeUndefined();
    const payload = await verifiedIdToken(tokens.id_token);
    expect(payload.amr).toEqual(['pwd']);
    expect(payload.acr).toBe('pwd');
  });
});

describe('a user with an authenticator app', () => {
  let secret: string;
  /** the code each sign-in below was let in with, kept: replays present these very codes */
  const accepted: string[] = [];
  beforeAll(async () => {
    secret = await enrolTotp(gh, subOf(TOTP_USER));
  });

  it('is asked for a code after the password; the right code signs in with amr pwd+otp+mfa, acr mfa', async () => {
    const current = totpCode(secret, 0);
    const { tokens, seen } = await signIn(rp, { credentials: credentialsOf(TOTP_USER), consent: 'allow', secondFactor: () => current });
    accepted.push(current);
    expect(seen).toMatchObject({ login: 1, secondFactor: 1 });
    const payload = await verifiedIdToken(tokens.id_token);
    expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(payload.acr).toBe('mfa');
    expect(payload.sub).toBe(subOf(TOTP_USER));
  });

  it('refuses a wrong code and a code already used (401, the form again), then takes a fresh one', async () => {
    const { ua, page } = await atCodeForm(TOTP_USER);
    // One code, kept: computed again later it could be the next step's (a fresh code) if a 30 s step ended meanwhile.
    const freshCode = totpCode(secret, 1);
    const wrongDigit = String((Number(freshCode[0]) + 1) % 10);
    const wrong = expectPage(await ua.submit(page, CODE_FORM, { code: `${wrongDigit}${freshCode.slice(1)}` }, RP));
    expect(wrong.status).toBe(401);
    expect(visibleText(wrong)).toContain('That code is not right, or was already used.');
    // The code the previous test signed in with: refused however right it is.
    const reused = expectPage(await ua.submit(wrong, CODE_FORM, { code: accepted[0]! }, RP));
    expect(reused.status).toBe(401);
    const fresh = expectRedirect(await ua.submit(reused, CODE_FORM, { code: freshCode }, RP));
    // consent was given by the earlier sign-in: straight back to the client with a code
    expect(callbackParams(fresh).get('code')).toBeTruthy();
    accepted.push(freshCode);
    // …and the same code cannot be used a second time in another sign-in.
    const again = await atCodeForm(TOTP_USER);
    const replay = expectPage(await again.ua.submit(again.page, CODE_FORM, { code: freshCode }, RP));
    expect(replay.status).toBe(401);
  });

  it('audits the second factor and never logs a code or the secret', async () => {
    const { rows } = await gh.testDb.db.query<{ event: string; details: Record<string, unknown> }>(
      `SELECT event, details FROM audit_events WHERE account_id = $1 ORDER BY occurred_at`,
      [subOf(TOTP_USER)],
    );
    const events = rows.map((r) => r.event);
    expect(events).toContain('mfa.success');
    expect(events).toContain('mfa.failure');
    expect(rows.find((r) => r.event === 'login.success' && (r.details.acr as string) === 'mfa')?.details.amr).toEqual(['pwd', 'otp', 'mfa']);
    const logs = gh.rawLogs();
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(secret.replace(/\s/g, ''));
    expect(accepted).toHaveLength(2);
    for (const code of accepted) expect(logs).not.toContain(code);
  });
});

describe('wrong codes are throttled like passwords', () => {
  it(`locks the second factor after ${MAX_FAILURES} wrong codes: 429 with Retry-After, even for the right code`, async () => {
    const secret = await enrolTotp(gh, subOf(THROTTLED));
    const { ua, page } = await atCodeForm(THROTTLED);
    let current = page;
    for (let i = 1; i < MAX_FAILURES; i++) {
      current = expectPage(await ua.submit(current, CODE_FORM, { code: '000000' === totpCode(secret, 0) ? '111111' : '000000' }, RP));
      expect(current.status).toBe(401);
    }
    const locked = expectPage(await ua.submit(current, CODE_FORM, { code: 'not-a-code' }, RP));
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    const stillLocked = expectPage(await ua.submit(locked, CODE_FORM, { code: totpCode(secret, 0) }, RP));
    expect(stillLocked.status).toBe(429);
    expect(visibleText(stillLocked)).toContain('Too many wrong codes.');
    const { rows } = await gh.testDb.db.query(`SELECT 1 FROM audit_events WHERE account_id = $1 AND event = 'mfa.locked'`, [subOf(THROTTLED)]);
    expect(rows).toHaveLength(1);
  });
});

describe('recovery codes', () => {
  it('sign in once each, in any case and spacing; a used one is refused', async () => {
    const sub = subOf(RECOVERY);
    await enrolTotp(gh, sub);
    const codes = await (await secondFactorsOf(gh)).regenerateRecoveryCodes(sub);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const [first] = codes as [string];
    const typed = ` ${first.toUpperCase().replace('-', ' ')} `;
    const { tokens } = await signIn(rp, { credentials: credentialsOf(RECOVERY), consent: 'allow', secondFactor: () => typed });
    const payload = await verifiedIdToken(tokens.id_token);
    expect(payload.acr).toBe('mfa');
    expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);

    const { ua, page } = await atCodeForm(RECOVERY);
    const reused = expectPage(await ua.submit(page, CODE_FORM, { code: first }, RP));
    expect(reused.status).toBe(401);
    const { rows } = await gh.testDb.db.query<{ details: { remaining: number } }>(
      `SELECT details FROM audit_events WHERE account_id = $1 AND event = 'mfa.recovery_code.used'`,
      [sub],
    );
    expect(rows.map((r) => r.details.remaining)).toEqual([9]);
    // Stored hashed: no code appears in the table.
    const stored = await gh.testDb.db.query<{ code_hash: Buffer }>('SELECT code_hash FROM mfa_recovery_codes WHERE sub = $1', [sub]);
    expect(stored.rows).toHaveLength(10);
    for (const row of stored.rows) for (const code of codes) expect(row.code_hash.toString('latin1')).not.toContain(code);
  });
});
