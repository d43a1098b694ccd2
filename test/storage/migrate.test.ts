import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open_db.js';
import { listMigrations, migrate, migrationsCurrent } from '../../src/db/migrate.js';
import type { TestDb } from '../support/test_db.js';
import { startGatehouse } from '../support/start_gatehouse.js';
import { availableBackends, createEmptyDb, serverBackends } from '../support/storage_backends.js';

// Migrations: applied once, recorded, idempotent, safe when instances start together; and
// /readyz tells a load balancer whether the schema is current.

const TABLES = ['oidc_models', 'clients', 'keys', 'users', 'consents'];

async function versionsRecorded(testDb: TestDb): Promise<string[]> {
  const { rows } = await testDb.db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((r) => r.version);
}

describe.each(availableBackends())('migrate on %s', (backend) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
  });
  afterAll(() => testDb?.drop());

  it('applies every migration to a fresh database and records each one', async () => {
    const expected = (await listMigrations()).map((m) => m.version);
    expect(expected[0]).toBe('0001');
    expect(await migrationsCurrent(testDb.db)).toBe(false);

    expect(await migrate(testDb.db)).toEqual(expected);
    expect(await versionsRecorded(testDb)).toEqual(expected);
    expect(await migrationsCurrent(testDb.db)).toBe(true);

    const { rows } = await testDb.db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining([...TABLES, 'schema_migrations']));
  });

  it('applies nothing the second time', async () => {
    const before = await versionsRecorded(testDb);
    expect(await migrate(testDb.db)).toEqual([]);
    expect(await versionsRecorded(testDb)).toEqual(before);
  });
});

describe.each(serverBackends())('concurrent migrate on %s', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createEmptyDb('postgres');
  });
  afterAll(() => testDb?.drop());

  it('lets two instances migrate the same database at once; the schema is applied once', async () => {
    const other = await openDb({ databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir, poolSize: 2, role: 'server' });
    try {
      const [a, b] = await Promise.all([migrate(testDb.db), migrate(other)]);
      const expected = (await listMigrations()).map((m) => m.version);
      // One of them did all the work; the other found nothing left to do.
      expect([...a, ...b].sort()).toEqual(expected);
      expect(a.length === 0 || b.length === 0).toBe(true);
      expect(await versionsRecorded(testDb)).toEqual(expected);
      expect(await migrationsCurrent(other)).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe.each(availableBackends())('/readyz on %s', (backend) => {
  it('is 200 on a migrated database and 503 once a migration is missing', async () => {
    const gh = await startGatehouse({ backend });
    try {
      const ready = await fetch(`${gh.issuer}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.headers.get('cache-control')).toBe('no-store');

      await gh.testDb.db.query('DELETE FROM schema_migrations');
      const notReady = await fetch(`${gh.issuer}/readyz`);
      expect(notReady.status).toBe(503);
      expect((await fetch(`${gh.issuer}/healthz`)).status).toBe(200);
    } finally {
      await gh.close();
    }
  });
});
