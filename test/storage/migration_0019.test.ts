import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { checkPassword, hashPassword } from '../../src/accounts/passwords.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0019 (users.locale, the language a user reads): a user stored by
// an earlier release has none (mails as before) and signs in as before; a locale can be set and
// read back; the column refuses what is not a language tag.

describe.each(availableBackends())('migration 0019 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0019') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('gives existing users no locale, keeps them signing in, and stores a language tag', async () => {
    await migrate(testDb.db, before);
    const password = 'a passphrase from the release before';
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', $1, true)`,
      [await hashPassword(password)],
    );
    expect(await migrate(testDb.db)).toContain('0019');

    const users = createUsersRepo(testDb.db);
    const old = (await users.findByLogin('old@example.com'))!;
    expect(old.locale).toBeNull();
    expect((await checkPassword(old, password)).ok).toBe(true);

    await users.setLocale(old.sub, 'de');
    expect((await users.findBySub(old.sub))!.locale).toBe('de');

    const registered = await users.register(
      { username: 'neu', email: 'neu@example.com', name: 'Neu', password: 'neu geht zu Fuss am Mittag', locale: 'fr' },
      false,
    );
    expect(registered.locale).toBe('fr');

    await expect(testDb.db.query(`UPDATE users SET locale = $2 WHERE sub = $1`, [old.sub, "de'; DROP TABLE users; --"])).rejects.toThrow(/check/i);
    await expect(testDb.db.query(`UPDATE users SET locale = $2 WHERE sub = $1`, [old.sub, 'x'.repeat(40)])).rejects.toThrow(/check/i);
    expect((await users.findBySub(old.sub))!.locale).toBe('de');
  });
});
