import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { checkPassword } from '../../src/accounts/passwords.js';
import { loadServerSecret } from '../../src/storage/server_secrets.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0009 (password hashes marked as normalised, server_secrets): a user
// stored by an earlier release keeps signing in, with the password as it was typed when it was
// set, and an existing database gets one throttle secret every process agrees on.

describe.each(availableBackends())('migration 0009 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0009') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('marks every existing hash as possibly made before normalisation, so it keeps verifying', async () => {
    await migrate(testDb.db, before);
    // An earlier release's row: the hash of the password as typed (a ligature NFKC would change).
    const typed = 'ﬁve ﬁsh in a row, said the old release';
    await testDb.db.query(`INSERT INTO users (username, password_hash) VALUES ('olduser', $1)`, [
      await argon2.hash(typed, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }),
    ]);
    expect(await migrate(testDb.db)).toContain('0009');

    const user = (await createUsersRepo(testDb.db).findByLogin('olduser'))!;
    expect(user.password_normalized).toBe(false);
    expect(await checkPassword(user, typed)).toEqual({ ok: true, outdated: true });
    // New hashes are marked.
    const fresh = await createUsersRepo(testDb.db).create({ username: 'newuser', password: 'a perfectly fine passphrase' });
    expect(fresh.password_normalized).toBe(true);
  });

  it('gives every process the same throttle secret', async () => {
    const [a, b] = await Promise.all([loadServerSecret(testDb.db, 'throttle_keys'), loadServerSecret(testDb.db, 'throttle_keys')]);
    expect(a.length).toBe(32);
    expect(b.equals(a)).toBe(true);
    expect((await loadServerSecret(testDb.db, 'throttle_keys')).equals(a)).toBe(true);
  });
});
