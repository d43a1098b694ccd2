import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { consumeLinkToken, createLinkToken } from '../../src/storage/link_tokens.js';
import { claimDueMail, storeMail } from '../../src/storage/mail_outbox.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0014 (mail_outbox, link_tokens): a user of the release before gets
// links and mail; deleting the user deletes both.

describe.each(availableBackends())('migration 0014 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0014') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('an existing user gets a link and a queued mail; both go with the user', async () => {
    await migrate(testDb.db, before);
    // As the release before stored it (today's users_repo may write columns of later migrations).
    await testDb.db.query(`INSERT INTO users (username, email) VALUES ('olduser', 'old@example.test')`);
    expect(await migrate(testDb.db)).toContain('0014');
    const user = (await createUsersRepo(testDb.db).findByUsername('olduser'))!;
    const token = await createLinkToken(testDb.db, { purpose: 'password_reset', sub: user.sub, ttlSeconds: 60 });
    await storeMail(testDb.db, { template: 'password_reset', to: 'old@example.test', subject: 's', text: 't', sub: user.sub });
    expect(await claimDueMail(testDb.db, 10, 30)).toHaveLength(1);
    expect((await consumeLinkToken(testDb.db, 'password_reset', token))?.sub).toBe(user.sub);
    await testDb.db.query('DELETE FROM users WHERE sub = $1', [user.sub]);
    const { rows } = await testDb.db.query<{ mail: number; links: number }>(
      'SELECT (SELECT count(*)::int FROM mail_outbox) AS mail, (SELECT count(*)::int FROM link_tokens) AS links',
    );
    expect(rows).toEqual([{ mail: 0, links: 0 }]);
  });
});
