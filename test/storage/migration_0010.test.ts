import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { checkPassword, hashPassword } from '../../src/accounts/passwords.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0010 (users.claims): a user stored by an earlier release is still
// found and keeps signing in, with no claims of their own, and can be given some.

describe.each(availableBackends())('migration 0010 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0010') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('gives an existing user empty claims; they are still found, sign in, and take claims and roles', async () => {
    await migrate(testDb.db, before);
    const password = 'a passphrase from the release before';
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', $1, true)`,
      [await hashPassword(password)],
    );
    expect(await migrate(testDb.db)).toContain('0010');

    const users = createUsersRepo(testDb.db);
    const user = (await users.findByLogin('old@example.com'))!;
    expect(user).toMatchObject({ username: 'olduser', name: 'Old User', claims: {} });
    expect(await users.findBySub(user.sub)).toMatchObject({ claims: {} });
    expect((await checkPassword(user, password)).ok).toBe(true);

    const changed = await users.addRoles('olduser', ['admin']);
    expect(changed).toMatchObject({ found: true, tooLarge: false, user: { claims: { roles: ['admin'] } } });
  });
});
