import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { checkPassword, hashPassword } from '../../src/accounts/passwords.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0015 (users.verification_pending): a user stored by an earlier
// release is not pending (signs in as before, email_verified unchanged); a self-registered user
// is pending until the address is confirmed.

describe.each(availableBackends())('migration 0015 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0015') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('leaves existing users signing in, not pending; a registered user is pending until verified', async () => {
    await migrate(testDb.db, before);
    const password = 'a passphrase from the release before';
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', $1, true)`,
      [await hashPassword(password)],
    );
    expect(await migrate(testDb.db)).toContain('0015');

    const users = createUsersRepo(testDb.db);
    const old = (await users.findByLogin('old@example.com'))!;
    expect(old).toMatchObject({ verification_pending: false, email_verified: false });
    expect((await checkPassword(old, password)).ok).toBe(true);

    const registered = await users.register({ username: 'newbie', email: 'new@example.com', name: 'New', password: 'newbie walks the dog at noon' }, true);
    expect(registered).toMatchObject({ verification_pending: true, email_verified: false });
    expect(await users.confirmEmail(registered.sub, 'other@example.com')).toBeUndefined();
    expect(await users.confirmEmail(registered.sub, 'NEW@example.com')).toMatchObject({ verification_pending: false, email_verified: true });
  });
});
