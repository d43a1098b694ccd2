import { cp, mkdtemp, rm } from 'node:fs/promises';
import { inject } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb } from '../../src/db/open_db.js';
import type { Db } from '../../src/db/db.js';

// A fresh database for one test file: a new database on the Postgres server named by
// TEST_DATABASE_URL, or (without it) embedded PGlite in a new temporary directory.

export type Backend = 'postgres' | 'embedded';

export interface TestDb {
  db: Db;
  backend: Backend;
  /** DATABASE_URL for a process that should use the same database ('' for embedded) */
  databaseUrl: string;
  /** DATA_DIR for a process that should use the same embedded database */
  dataDir: string;
  drop(): Promise<void>;
}

export const postgresAvailable = () => Boolean(process.env.TEST_DATABASE_URL);

export function defaultBackend(): Backend {
  return postgresAvailable() ? 'postgres' : 'embedded';
}

async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.TEST_DATABASE_URL!;
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Opens a fresh database; `open: false` only creates it (for a child process to open). */
export async function createTestDb(backend: Backend = defaultBackend(), { open = true } = {}): Promise<TestDb> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-test-'));
  if (backend === 'postgres') {
    const created = await createPostgresDatabase();
    const db = open ? await openDb({ databaseUrl: created.url, dataDir, poolSize: 5, role: 'server' }) : (undefined as unknown as Db);
    return {
      db,
      backend,
      databaseUrl: created.url,
      dataDir,
      drop: async () => {
        if (open) await db.close();
        await created.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  await cp(path.join(inject('pgliteTemplate'), 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
  const db = open ? await openDb({ databaseUrl: undefined, dataDir, poolSize: 5, role: 'server' }) : (undefined as unknown as Db);
  return {
    db,
    backend,
    databaseUrl: '',
    dataDir,
    drop: async () => {
      if (open) await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
