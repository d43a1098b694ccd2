import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryConfig } from 'pg';
import type { Db } from './db.js';

// migrations/NNNN_name.sql, applied in order, in one transaction under an advisory lock, so
// instances starting together take turns instead of racing.

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
const LOCK_KEY = 0x6761_7465; // "gate"
// Exempt from the pool's per-statement timeout (open_db.ts): a migration may rebuild a large
// table, and waiting for the lock means waiting for another instance's migrations.
// pg reads `query_timeout` from a query's config too; its typings do not list it.
const unbounded = (text: string, values?: unknown[]) => ({ text, values, query_timeout: 2 ** 31 - 1 }) as QueryConfig;

export interface Migration {
  version: string;
  file: string;
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return files.map((file) => ({ version: file.slice(0, 4), file: path.join(dir, file) }));
}

const ensureTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;

async function applied(db: Pick<Db, 'query'>): Promise<Set<string>> {
  const { rows } = await db.query<{ version: string }>('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies pending migrations; returns the versions applied by this call. All of them run in one
 * transaction: an upgrade that fails part-way leaves the schema as the release before left it,
 * so that release keeps serving.
 */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await listMigrations(dir);
  const client = await db.pool.connect();
  try {
    // Nearly every start (and every CLI command) finds nothing to do: that is read without a
    // transaction or a lock (on the embedded database, CLI commands borrowing a server's socket
    // share its one backend, and a transaction apiece made them trip over each other).
    if (await upToDate(client, migrations)) return [];
    await client.query('BEGIN');
    try {
      // A transaction-level advisory lock ends with the transaction on the server connection
      // that took it, which also holds behind a pooler in transaction mode (PgBouncer), where a
      // session lock would stay with whichever server connection ran that one statement and an
      // unlock could land on another. Instances starting together take turns: the second finds
      // the work done.
      await client.query(unbounded('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]));
      await client.query(ensureTable);
      const done = await applied(client);
      const ran: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        const sql = await readFile(migration.file, 'utf8');
        try {
          await client.query(unbounded(sql));
        } catch (error) {
          throw new Error(`migration ${path.basename(migration.file)} failed: ${(error as Error).message}`);
        }
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, path.basename(migration.file)]);
        ran.push(migration.version);
      }
      await client.query('COMMIT');
      return ran;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}

const UNDEFINED_TABLE = '42P01';

/** Every migration recorded (false on a new database, which has no schema_migrations yet). */
async function upToDate(client: Pick<Db, 'query'>, migrations: Migration[]): Promise<boolean> {
  try {
    const done = await applied(client);
    return migrations.every((m) => done.has(m.version));
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_TABLE) return false;
    throw error;
  }
}

/** True when every migration file has been applied (what /readyz checks). */
export async function migrationsCurrent(db: Db, dir = MIGRATIONS_DIR): Promise<boolean> {
  const migrations = await listMigrations(dir);
  try {
    const done = await applied(db);
    return migrations.every((m) => done.has(m.version));
  } catch {
    return false;
  }
}
