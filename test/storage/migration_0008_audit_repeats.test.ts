import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createLogger } from '../../src/core/log.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Migration 0008 (repeated audit events as one row) on a database an earlier release wrote:
// its audit rows keep reading as one occurrence each, and repeats are counted from then on.

describe.each(availableBackends())('migration 0008 on %s', (backend) => {
  let testDb: TestDb;
  let before0008: string;
  const sub = randomUUID();

  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before0008 = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0008') await cp(path.join(MIGRATIONS_DIR, file), path.join(before0008, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    await rm(before0008, { recursive: true, force: true });
  });

  it('keeps the rows of an earlier release, one occurrence each, and counts repeats afterwards', async () => {
    await migrate(testDb.db, before0008);
    await testDb.db.query(
      `INSERT INTO audit_events (event, account_id, username, ip, details) VALUES
         ('login.failure', $1, 'dave', '127.0.0.1', '{"reason":"locked_out","scope":"account","retry_after":60}'),
         ('login.failure', $1, 'dave', '127.0.0.1', '{"reason":"locked_out","scope":"account","retry_after":59}')`,
      [sub],
    );
    expect(await migrate(testDb.db)).toContain('0008');

    const audit = createAuditLog({ db: testDb.db, log: createLogger('silent') });
    expect((await audit.listForAccount(sub)).map((r) => r.repeat_count)).toEqual([1, 1]);

    const refused = { event: 'login.failure' as const, accountId: sub, username: 'dave', ip: '127.0.0.1', details: { reason: 'locked_out' } };
    for (let i = 0; i < 5; i++) await audit.recordRepeated(refused, { key: `test:${sub}`, windowSeconds: 60 });
    const listed = await audit.listForAccount(sub);
    expect(listed).toHaveLength(3);
    expect(listed[0]).toMatchObject({ repeat_count: 5, last_occurred_at: expect.any(Date) });

    // After its window, a repeat starts a new row; the old one keeps its count.
    await testDb.db.query(`UPDATE audit_events SET last_occurred_at = now() - interval '2 minutes' WHERE aggregate_key = $1`, [`test:${sub}`]);
    await audit.recordRepeated(refused, { key: `test:${sub}`, windowSeconds: 60 });
    expect((await audit.listForAccount(sub)).map((r) => r.repeat_count)).toEqual([1, 5, 1, 1]);
  });
});
