import { access, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open_db.js';
import { listMigrations } from '../../src/db/migrate.js';
import { lockPath } from '../../src/db/embedded_lock.js';
import type { Db } from '../../src/db/db.js';
import { createTestDb, defaultBackend, type TestDb } from '../support/test_db.js';
import { runCli } from './cli_harness.js';

// `gatehouse migrate`, and the first command of a fresh checkout: the CLI opens the database
// itself (embedded: creates it, takes the lock, releases it) and brings the schema up to date.

const backend = defaultBackend();
const cleanups: (() => Promise<void>)[] = [];
let blankEmbedded: string | undefined;

beforeAll(async () => {
  if (backend !== 'embedded') return;
  // One empty, never-migrated PGlite (its initdb takes seconds), copied for each test.
  blankEmbedded = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-blank-'));
  cleanups.push(() => rm(blankEmbedded!, { recursive: true, force: true }));
  const db = await openDb({ databaseUrl: undefined, dataDir: blankEmbedded, poolSize: 1, role: 'server' });
  await db.close();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Fresh {
  env: Record<string, string>;
  /** opens the database to check rows (embedded: only while no command holds it) */
  inspect<T>(fn: (db: Db) => Promise<T>): Promise<T>;
}

async function freshDatabase(): Promise<Fresh> {
  if (backend === 'postgres') {
    const testDb: TestDb = await createTestDb('postgres', { open: false });
    cleanups.push(() => testDb.drop());
    return {
      env: { DATABASE_URL: testDb.databaseUrl },
      async inspect(fn) {
        const db = await openDb({ databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir, poolSize: 1, role: 'server' });
        try {
          return await fn(db);
        } finally {
          await db.close();
        }
      },
    };
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-fresh-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  await cp(path.join(blankEmbedded!, 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
  return {
    env: { DATA_DIR: dataDir },
    async inspect(fn) {
      // The command released the lock when it finished.
      await expect(access(lockPath(dataDir))).rejects.toThrow();
      const db = await openDb({ databaseUrl: undefined, dataDir, poolSize: 1, role: 'server' });
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    },
  };
}

const appliedVersions = (db: Db) =>
  db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version').then((r) => r.rows.map((row) => row.version));

describe('gatehouse migrate', () => {
  it('applies every migration once, says which, and then says the database is up to date', { timeout: 120_000 }, async () => {
    const migrations = await listMigrations();
    const fresh = await freshDatabase();

    const first = await runCli(['migrate'], { env: fresh.env });
    expect(first).toEqual({ code: 0, stdout: migrations.map((m) => `applied ${path.basename(m.file)}\n`).join(''), stderr: '' });

    const again = await runCli(['migrate'], { env: fresh.env });
    expect(again).toEqual({
      code: 0,
      stdout: `database is up to date (${migrations.length} migration${migrations.length === 1 ? '' : 's'} applied)\n`,
      stderr: '',
    });

    await fresh.inspect(async (db) => {
      expect(await appliedVersions(db)).toEqual(migrations.map((m) => m.version));
      const { rows } = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['clients', 'consents', 'keys', 'oidc_models', 'users']));
    });
  });
});

describe('the first command on a fresh database', () => {
  it('migrates it first, so `users add` works with no other step', { timeout: 120_000 }, async () => {
    const fresh = await freshDatabase();
    const result = await runCli(['users', 'add', 'alice', '--email', 'alice@example.com', '--password-stdin'], {
      env: fresh.env,
      stdin: 'correct horse battery staple\n',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    // A note, not an error: stdout stays just the sub, for scripts.
    expect(result.stderr).toMatch(/^note: applied database migrations \d{4}/);

    await fresh.inspect(async (db) => {
      expect(await appliedVersions(db)).toEqual((await listMigrations()).map((m) => m.version));
      const { rows } = await db.query<{ sub: string }>(`SELECT sub FROM users WHERE username = 'alice'`);
      expect(rows).toEqual([{ sub: result.stdout.trim() }]);
    });
  });
});
