import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildClient, buildUser, configWithClients, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { RP } from '../support/fixtures.js';
import { discover, signIn, oidc } from '../support/relying_party.js';
import { expectPage, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { enrolTotp, totpCode } from '../support/mfa.js';
import type { User } from '../../src/accounts/users_repo.js';
import type { UserAgent } from '../support/user_agent.js';

// Asking for a second factor: acr_values=mfa, an essential acr claim, and a client registered
// with require_mfa. Inside an existing password-only session only the second factor is asked
// (step-up), and a user who has none is taken through setting up an authenticator app.

const MFA_CLIENT = buildClient('mfa-only', { require_mfa: true, skip_consent: true });
const STEP_UP = buildUser();
const CLAIMS = buildUser();
const REQUIRED = buildUser();
const NO_FACTOR = buildUser();

let gh: RunningGatehouse;
let users: User[];
let rp: oidc.Configuration;

beforeAll(async () => {
  ({ gh, users } = await startGatehouseWithUsers([STEP_UP, CLAIMS, REQUIRED, NO_FACTOR], { config: configWithClients(MFA_CLIENT) }));
  rp = await rpFor(gh, 'web');
});
afterAll(() => gh?.close());

const subOf = (user: { username: string }) => users.find((u) => u.username === user.username)!.sub;

async function idTokenOf(idToken: string | undefined, audience = 'web') {
  const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
  return (await jwtVerify(idToken!, jwks, { issuer: gh.issuer, audience })).payload;
}

/** A browser signed in with the password alone (before the user had a second factor). */
async function passwordSession(user: { username: string; password: string }): Promise<UserAgent> {
  const { ua, tokens } = await signIn(rp, { credentials: credentialsOf(user), consent: 'allow' });
  expect((await idTokenOf(tokens.id_token)).acr).toBe('pwd');
  return ua;
}

describe('step-up inside an existing password-only session', () => {
  it('acr_values=mfa asks only for the code (no password), then acr mfa and amr pwd+otp+mfa', async () => {
    const ua = await passwordSession(STEP_UP);
    const secret = await enrolTotp(gh, subOf(STEP_UP));
    // Without acr_values the session is enough: no page at all.
    const plain = await signIn(rp, { ua });
    expect(plain.seen).toEqual({ login: 0, consent: 0 });
    expect((await idTokenOf(plain.tokens.id_token)).acr).toBe('pwd');

    const stepped = await signIn(rp, { ua, params: { acr_values: 'mfa' }, secondFactor: () => totpCode(secret, 0) });
    expect(stepped.seen).toMatchObject({ login: 0, consent: 0, secondFactor: 1 });
    const payload = await idTokenOf(stepped.tokens.id_token);
    expect(payload.acr).toBe('mfa');
    expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(payload.sub).toBe(subOf(STEP_UP));

    // The session now has mfa: asking again needs nothing more.
    const again = await signIn(rp, { ua, params: { acr_values: 'mfa' } });
    expect(again.seen).toEqual({ login: 0, consent: 0 });
    expect((await idTokenOf(again.tokens.id_token)).acr).toBe('mfa');
  });

  it('an essential acr claim asking for mfa steps up too; acr_values "pwd mfa" does not', async () => {
    const ua = await passwordSession(CLAIMS);
    const secret = await enrolTotp(gh, subOf(CLAIMS));
    const either = await signIn(rp, { ua, params: { acr_values: 'pwd mfa' } });
    expect(either.seen).toEqual({ login: 0, consent: 0 });

    const claims = JSON.stringify({ id_token: { acr: { essential: true, value: 'mfa' } } });
    const stepped = await signIn(rp, { ua, params: { claims }, secondFactor: () => totpCode(secret, 0) });
    expect(stepped.seen).toMatchObject({ login: 0, secondFactor: 1 });
    expect((await idTokenOf(stepped.tokens.id_token)).acr).toBe('mfa');

    // mfa satisfies an essential request for pwd: no page, no endless prompting.
    const pwd = JSON.stringify({ id_token: { acr: { essential: true, values: ['pwd'] } } });
    const weaker = await signIn(rp, { ua, params: { claims: pwd } });
    expect(weaker.seen).toEqual({ login: 0, consent: 0 });
    expect((await idTokenOf(weaker.tokens.id_token)).acr).toBe('mfa');
  });
});

describe('a client registered with require_mfa', () => {
  it('always gets a second factor, also for a session that signed in elsewhere with a password', async () => {
    const ua = await passwordSession(REQUIRED);
    const secret = await enrolTotp(gh, subOf(REQUIRED));
    const mfaRp = await discover(gh.issuer, MFA_CLIENT.client_id, MFA_CLIENT.client_secret);
    const { tokens, seen } = await signIn(mfaRp, { ua, redirectUri: `${RP}/mfa-only/callback`, secondFactor: () => totpCode(secret, 0) });
    expect(seen).toMatchObject({ login: 0, secondFactor: 1 });
    const payload = await idTokenOf(tokens.id_token, MFA_CLIENT.client_id);
    expect(payload.acr).toBe('mfa');
    expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});

describe('a user required to use a second factor who has none', () => {
  it('is taken through setting up an authenticator app, then signed in with acr mfa', async () => {
    const mfaRp = await discover(gh.issuer, MFA_CLIENT.client_id, MFA_CLIENT.client_secret);
    const started = await startAuthorization(mfaRp, { redirectUri: `${RP}/mfa-only/callback` });
    const login = expectPage(started.landing);
    const enrol = expectPage(await started.ua.submit(login, 'form[action$="/login"]', credentialsOf(NO_FACTOR), RP));
    expect(enrol.status).toBe(200);
    expect(visibleText(enrol)).toContain('Set up two-step verification');
    expect(enrol.$('.qr[role="img"] > svg')).toHaveLength(1);
    const secret = enrol.$('#totp-secret').text();
    expect(secret.replace(/\s/g, '')).toMatch(/^[A-Z2-7]{32}$/);

    const wrong = expectPage(await started.ua.submit(enrol, 'form[action$="/mfa/enrol"]', { code: '12345' }, RP));
    expect(wrong.status).toBe(401);
    // The same secret is offered again, not a new one.
    expect(wrong.$('#totp-secret').text()).toBe(secret);
    const done = await started.ua.submit(wrong, 'form[action$="/mfa/enrol"]', { code: totpCode(secret, 0) }, RP);
    expect('redirectedTo' in done).toBe(true);
    const { rows } = await gh.testDb.db.query<{ event: string }>(`SELECT event FROM audit_events WHERE account_id = $1 ORDER BY occurred_at, id`, [
      subOf(NO_FACTOR),
    ]);
    expect(rows.map((r) => r.event)).toEqual(expect.arrayContaining(['mfa.enrolment_required', 'mfa.totp.enrolled', 'mfa.success', 'login.success']));
    const totp = await gh.testDb.db.query('SELECT 1 FROM mfa_totp WHERE sub = $1 AND confirmed_at IS NOT NULL', [subOf(NO_FACTOR)]);
    expect(totp.rows).toHaveLength(1);
  });
});
