import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createSecondFactors } from '../../src/mfa/second_factors.js';
import { keyIdOf, loadSecretBox } from '../../src/mfa/secret_box.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { buildUser } from '../support/factories.js';
import { totpCode } from '../support/mfa.js';

// TOTP secrets at rest: sealed with AES-256-GCM under a key outside the row (the database's own
// key, or MFA_ENCRYPTION_KEY), bound to their user, and moved to a new key on use after a
// rotation (the old key named in MFA_ENCRYPTION_KEY_PREVIOUS). A code is accepted once even when
// two requests present it at the same moment.

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
  await migrate(testDb.db);
});
afterAll(() => testDb?.drop());

// The second factors here run on a clock of their own, stopped in the middle of a step: each code
// is for a step chosen outright, so no 30-second step ending mid-test can turn one into another.
const NOW = Date.UTC(2026, 0, 1, 12, 0, 15);
const at = (ms: number) => () => ms;
const factors = (box: Parameters<typeof loadSecretBox>[1], now = NOW) =>
  loadSecretBox(testDb.db, box).then((opened) => createSecondFactors(testDb.db, opened, 'test', at(now)));
const code = (secret: string, step: number) => totpCode(secret, step, NOW);

async function newUser() {
  return createUsersRepo(testDb.db).create(buildUser());
}

describe('TOTP secrets at rest', () => {
  it('rotate from the database key to MFA_ENCRYPTION_KEY and on to a newer one, re-sealed on use', async () => {
    const user = await newUser();
    const before = await factors({ previous: [] });
    const { secret } = (await before.startTotp(user.sub, 'u'))!;
    expect(await before.confirmTotp(user.sub, code(secret, -1))).toBe(true);
    const keyId = async () => (await testDb.db.query<{ key_id: string }>('SELECT key_id FROM mfa_totp WHERE sub = $1', [user.sub])).rows[0]!.key_id;
    const databaseKeyId = await keyId();

    // MFA_ENCRYPTION_KEY set: the database key still opens old secrets, which move on first use.
    const first = randomBytes(32);
    const withEnv = await factors({ current: first, previous: [] });
    expect(await withEnv.verify(user.sub, code(secret, 0))).toEqual({ ok: true, method: 'totp' });
    expect(await keyId()).toBe(keyIdOf(first));
    expect(keyIdOf(first)).not.toBe(databaseKeyId);

    // Rotated again: the old env key in PREVIOUS opens it; afterwards it is under the new one.
    const second = randomBytes(32);
    const rotated = await factors({ current: second, previous: [first] });
    expect((await rotated.verify(user.sub, code(secret, 1))).ok).toBe(true);
    expect(await keyId()).toBe(keyIdOf(second));

    // Without the key that sealed it, the secret does not open: refused, not an error (a step
    // later, so the code would be fresh and on time if the secret opened).
    const lost = await factors({ current: randomBytes(32), previous: [] }, NOW + 30_000);
    expect(await lost.verify(user.sub, code(secret, 2))).toEqual({ ok: false });
  });

  it("a sealed secret copied onto another user's row does not open there", async () => {
    const [alice, mallory] = [await newUser(), await newUser()];
    const mfa = await factors({ previous: [] });
    const { secret } = (await mfa.startTotp(alice.sub, 'a'))!;
    expect(await mfa.confirmTotp(alice.sub, code(secret, -1))).toBe(true);
    await testDb.db.query(
      `INSERT INTO mfa_totp (sub, key_id, secret_sealed, confirmed_at) SELECT $2, key_id, secret_sealed, now() FROM mfa_totp WHERE sub = $1`,
      [alice.sub, mallory.sub],
    );
    expect(await mfa.verify(mallory.sub, code(secret, 0))).toEqual({ ok: false });
  });

  it('accepts a code once when two requests present it at the same moment', async () => {
    const user = await newUser();
    const mfa = await factors({ previous: [] });
    const { secret } = (await mfa.startTotp(user.sub, 'u'))!;
    expect(await mfa.confirmTotp(user.sub, code(secret, -1))).toBe(true);
    const current = code(secret, 0);
    const results = await Promise.all(Array.from({ length: 4 }, () => mfa.verify(user.sub, current)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
