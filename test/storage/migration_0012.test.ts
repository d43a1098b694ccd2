import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createPasskeysRepo } from '../../src/storage/passkeys_repo.js';
import { hasSecondFactor, removeAllFactors } from '../../src/mfa/second_factors.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0012 (passkeys): a user stored by an earlier release has no
// passkeys and no second factor; a passkey added afterwards is listed, counts as a second factor,
// goes with `users mfa reset` (removeAllFactors) and with the user.

describe.each(availableBackends())('migration 0012 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0012') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('gives an existing user no passkeys; one added later is a second factor, reset removes it', async () => {
    await migrate(testDb.db, before);
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', 'x', true)`,
    );
    expect(await migrate(testDb.db)).toContain('0012');

    const user = (await createUsersRepo(testDb.db).findByLogin('olduser'))!;
    const passkeys = createPasskeysRepo(testDb.db);
    expect(await passkeys.list(user.sub)).toEqual([]);
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(false);

    const key = {
      sub: user.sub,
      publicKey: new Uint8Array([1, 2, 3]),
      counter: 0,
      transports: ['internal'],
      deviceType: 'singleDevice' as const,
      backedUp: false,
    };
    expect(await passkeys.add({ ...key, id: 'cred-1', name: 'Laptop' })).toBe(true);
    expect(await passkeys.add({ ...key, id: 'cred-1', name: 'Again' })).toBe(false);
    expect(await passkeys.add({ ...key, id: 'cred-2', name: 'Phone', deviceType: 'multiDevice', backedUp: true })).toBe(true);
    expect((await passkeys.list(user.sub)).map((p) => [p.name, p.deviceType, p.backedUp, [...p.publicKey]])).toEqual([
      ['Laptop', 'singleDevice', false, [1, 2, 3]],
      ['Phone', 'multiDevice', true, [1, 2, 3]],
    ]);
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(true);
    expect(await passkeys.rename('00000000-0000-0000-0000-000000000000', 'cred-1', 'Not mine')).toBe(false);
    expect(await passkeys.remove('00000000-0000-0000-0000-000000000000', 'cred-1')).toBe(false);

    expect(await removeAllFactors(testDb.db, user.sub)).toMatchObject({ passkeys: 2 });
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(false);

    await passkeys.add({ ...key, id: 'cred-3', name: 'Key' });
    await passkeys.saveChallenge({ challenge: 'c', purpose: 'p', binding: 'b', sub: user.sub, ttlSeconds: 60 });
    await testDb.db.query('DELETE FROM users WHERE sub = $1', [user.sub]);
    expect((await testDb.db.query('SELECT 1 FROM webauthn_credentials UNION ALL SELECT 1 FROM webauthn_challenges')).rowCount).toBe(0);
  });
});
