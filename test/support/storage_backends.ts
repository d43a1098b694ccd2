import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import { openDb } from '../../src/db/open_db.js';
import type { Db } from '../../src/db/db.js';
import { postgresAvailable, type Backend, type TestDb } from './test_db.js';

// What the storage tests need beyond test_db.ts: every back end available in this run (so one
// suite runs against each), a database without migrations, a reopened database (a restart),
// and a Db that records the statements it was asked to run.

/** Embedded PGlite always; real Postgres too when TEST_DATABASE_URL is set. */
export function availableBackends(): Backend[] {
  return postgresAvailable() ? ['embedded', 'postgres'] : ['embedded'];
}

/** The Postgres back end alone, when there is one (for what only a server can do). */
export function serverBackends(): Backend[] {
  return postgresAvailable() ? ['postgres'] : [];
}

async function dropPostgresDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** An empty database (no migrations applied). */
export async function createEmptyDb(backend: Backend): Promise<TestDb> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-empty-'));
  if (backend === 'postgres') {
    const name = `gatehouse_test_${Math.random().toString(16).slice(2, 14)}`;
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    const db = await openDb({ databaseUrl, dataDir, poolSize: 5, role: 'server' });
    return {
      db,
      backend,
      databaseUrl,
      dataDir,
      drop: async () => {
        await db.close();
        await dropPostgresDatabase(databaseUrl);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  const db = await openDb({ databaseUrl: undefined, dataDir, poolSize: 5, role: 'server' });
  return {
    db,
    backend,
    databaseUrl: '',
    dataDir,
    drop: async () => {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Closes `testDb` and opens the same database again, as a restarted process would (for the
 * embedded back end: a new PGlite instance on the same files). Drop the returned handle, not
 * the original.
 */
export async function reopenTestDb(testDb: TestDb): Promise<TestDb> {
  await testDb.db.close();
  const db = await openDb({ databaseUrl: testDb.databaseUrl || undefined, dataDir: testDb.dataDir, poolSize: 5, role: 'server' });
  return {
    ...testDb,
    db,
    drop: async () => {
      await db.close();
      if (testDb.backend === 'postgres') await dropPostgresDatabase(testDb.databaseUrl);
      await rm(testDb.dataDir, { recursive: true, force: true });
    },
  };
}

export interface RecordedQuery {
  text: string;
  values: unknown[];
}

/** `db`, but every statement sent through `query` is also recorded in `calls`. */
export function recordingDb(db: Db): { db: Db; calls: RecordedQuery[] } {
  const calls: RecordedQuery[] = [];
  const recording: Db = {
    ...db,
    query: ((text: string | QueryConfig, values?: unknown[]) => {
      calls.push(typeof text === 'string' ? { text, values: values ?? [] } : { text: text.text, values: text.values ?? values ?? [] });
      return db.query(text, values);
    }) as Db['query'],
  };
  return { db: recording, calls };
}

/** The plan Postgres chooses for `query` when sequential scans are ruled out. */
export async function planWithoutSeqScan(db: Db, query: RecordedQuery): Promise<string> {
  return db.transaction(async (client: PoolClient) => {
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.text}`, values: query.values });
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}
