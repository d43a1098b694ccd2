import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { RP } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind, startAuthorization } from '../support/hosted_pages.js';

// A user whose stored hash was made with older, weaker argon2 parameters signs in through the
// real login form: the right password replaces the hash with one made with today's parameters
// (m=19456, t=2, p=1); a wrong one leaves it as it was.

const FP_CALLBACK = `${RP}/fp/callback`;
const DINAH = { username: 'dinah', email: 'dinah@example.test', name: 'Dinah', password: 'a cat called dinah purrs' };
const WEAK = { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 } as const;

let gh: RunningGatehouse;
let rp: oidc.Configuration;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([DINAH]));
  rp = await rpFor(gh, 'first-party');
});
afterAll(() => gh?.close());

interface HashRow {
  password_hash: string;
  password_changed_at: Date;
  updated_at: Date;
}

async function stored(): Promise<HashRow> {
  const { rows } = await gh.testDb.db.query<HashRow>('SELECT password_hash, password_changed_at, updated_at FROM users WHERE username = $1', [DINAH.username]);
  return rows[0]!;
}

/** The variant and the costs, read off the PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
function params(hash: string): Record<string, string> {
  const [, variant, , costs] = hash.split('$');
  return { variant: variant!, ...Object.fromEntries((costs ?? '').split(',').map((kv) => kv.split('=') as [string, string])) };
}

async function signIn(password: string) {
  const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return started.ua.submit(page, LOGIN_FORM, { login: DINAH.username, password }, RP);
}

describe('a password hash made with older argon2 parameters', () => {
  beforeAll(async () => {
    await gh.testDb.db.query('UPDATE users SET password_hash = $2 WHERE username = $1', [DINAH.username, await argon2.hash(DINAH.password, WEAK)]);
    expect(params((await stored()).password_hash)).toEqual({ variant: 'argon2id', m: '4096', t: '1', p: '1' });
  });

  it('is left alone by a wrong password', async () => {
    const before = await stored();
    const refused = expectPage(await signIn('not the password at all'));
    expect(refused.status).toBe(401);
    expect(await stored()).toEqual(before);
  });

  it('is replaced on a successful sign-in by a hash with the current parameters, of the same password', async () => {
    const before = await stored();
    const landing = await signIn(DINAH.password);
    expect(callbackParams(expectRedirect(landing)).get('code')).toBeTruthy();

    const after = await stored();
    expect(params(after.password_hash)).toEqual({ variant: 'argon2id', m: '19456', t: '2', p: '1' });
    expect(await argon2.verify(after.password_hash, DINAH.password)).toBe(true);
    // Not a password change, nor a profile change (the ID token's updated_at).
    expect(after.password_changed_at).toEqual(before.password_changed_at);
    expect(after.updated_at).toEqual(before.updated_at);
    expect(gh.logs.filter((l) => l.event === 'password.rehashed')).toEqual([expect.objectContaining({ sub: expect.any(String) })]);
    expect(gh.rawLogs()).not.toContain(DINAH.password);
  });

  it('is not re-hashed again on the next sign-in', async () => {
    const before = await stored();
    expect(callbackParams(expectRedirect(await signIn(DINAH.password))).get('code')).toBeTruthy();
    expect((await stored()).password_hash).toBe(before.password_hash);
    expect(gh.logs.filter((l) => l.event === 'password.rehashed')).toHaveLength(1);
  });
});

describe('a hash made before passwords were normalised (marked by migration 0009)', () => {
  // NFKC turns the "ﬁ" ligatures into "fi": the typed and normalised forms differ.
  const TYPED = 'ﬁve ﬁsh in a row, said dinah';
  const legacyHash = () => argon2.hash(TYPED, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const marked = async () =>
    (
      await gh.testDb.db.query<{ password_hash: string; password_normalized: boolean }>(
        'SELECT password_hash, password_normalized FROM users WHERE username = $1',
        [DINAH.username],
      )
    ).rows[0]!;

  it('signs in with the password as typed, once, and is re-hashed into the normalised, marked form', async () => {
    await gh.testDb.db.query('UPDATE users SET password_hash = $2, password_normalized = false WHERE username = $1', [DINAH.username, await legacyHash()]);
    expect(callbackParams(expectRedirect(await signIn(TYPED))).get('code')).toBeTruthy();
    const after = await marked();
    expect(after.password_normalized).toBe(true);
    expect(await argon2.verify(after.password_hash, TYPED.normalize('NFKC'))).toBe(true);
    expect(callbackParams(expectRedirect(await signIn(TYPED))).get('code')).toBeTruthy();
  });

  it('is not tried in its typed form when the hash is marked as normalised', async () => {
    await gh.testDb.db.query('UPDATE users SET password_hash = $2, password_normalized = true WHERE username = $1', [DINAH.username, await legacyHash()]);
    expect(expectPage(await signIn(TYPED)).status).toBe(401);
  });
});
