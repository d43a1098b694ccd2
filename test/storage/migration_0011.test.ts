import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { checkPassword, hashPassword } from '../../src/accounts/passwords.js';
import { createSecondFactors, hasSecondFactor } from '../../src/mfa/second_factors.js';
import { loadSecretBox } from '../../src/mfa/secret_box.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';
import { awayFromStepEnd, totpCode } from '../support/mfa.js';

// Upgrading across migration 0011 (second factors): a user stored by an earlier release has no
// second factor, still signs in with the password, and can set up an authenticator app; deleting
// the user takes their factors with them.

describe.each(availableBackends())('migration 0011 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0011') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('leaves existing users without a second factor; they sign in and can enrol one', async () => {
    await migrate(testDb.db, before);
    const password = 'a passphrase from the release before';
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', $1, true)`,
      [await hashPassword(password)],
    );
    expect(await migrate(testDb.db)).toContain('0011');

    const users = createUsersRepo(testDb.db);
    const user = (await users.findByLogin('old@example.com'))!;
    expect((await checkPassword(user, password)).ok).toBe(true);
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(false);

    const mfa = await createSecondFactors(testDb.db, await loadSecretBox(testDb.db, { previous: [] }), 'test');
    const setup = (await mfa.startTotp(user.sub, user.username))!;
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(false);
    await awayFromStepEnd(1_000);
    expect(await mfa.confirmTotp(user.sub, totpCode(setup.secret, -1))).toBe(true);
    expect(await hasSecondFactor(testDb.db, user.sub)).toBe(true);
    await mfa.regenerateRecoveryCodes(user.sub);

    expect(await users.delete('olduser')).toBeTruthy();
    const left = await testDb.db.query('SELECT (SELECT count(*) FROM mfa_totp) + (SELECT count(*) FROM mfa_recovery_codes) AS n');
    expect(Number(left.rows[0]!.n)).toBe(0);
  });
});
