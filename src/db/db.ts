import type { Pool, PoolClient, QueryConfig, QueryResultRow } from 'pg';
import { isDatabaseUnavailable } from '../core/database_unavailable.js';
import { createLocalChanges, type LocalChanges } from './local_changes.js';

/**
 * The one database handle the rest of the code sees. Both back ends (a Postgres server, or
 * embedded PGlite served over a private Unix socket) are reached through the same `pg` Pool,
 * so every query runs the same way on both.
 */
export interface Db {
  readonly kind: 'postgres' | 'embedded';
  readonly pool: Pool;
  /**
   * Whether each connection of the pool is a server session of its own, which can LISTEN: not
   * behind a transaction-mode pooler (pool_mode.ts), not on embedded PGlite (its socket carries
   * no notifications).
   */
  readonly ownSessions: boolean;
  /** this process's writes of rows a cache may keep, told to its caches at once (local_changes.ts) */
  readonly localChanges: LocalChanges;
  query<R extends QueryResultRow = QueryResultRow>(text: string | QueryConfig, values?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * `namedStatements: false` sends every statement unnamed: embedded PGlite multiplexes every pg
 * connection onto one backend, where statement names from different connections collide, and a
 * transaction-mode pooler (pool_mode.ts) runs each statement on whichever server connection is free.
 */
export function dbOnPool(kind: Db['kind'], pool: Pool, onClose: () => Promise<void>, { namedStatements = kind === 'postgres' } = {}): Db {
  return {
    kind,
    pool,
    ownSessions: kind === 'postgres' && namedStatements,
    localChanges: createLocalChanges(),
    async query<R extends QueryResultRow>(text: string | QueryConfig, values?: unknown[]) {
      const config =
        typeof text === 'string'
          ? { text, values }
          : namedStatements
            ? { ...text, values: text.values ?? values }
            : { text: text.text, values: text.values ?? values };
      const result = await pool.query<R>(config);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async transaction<T>(fn: (client: PoolClient) => Promise<T>) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          // The connection is lost or hung: a ROLLBACK would only wait for another timeout.
          // Dropping the connection ends the transaction on the server all the same.
          broken = error as Error;
        } else {
          await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError as Error));
        }
        throw error;
      } finally {
        // Released with an error, the pool closes the connection instead of reusing it.
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
      await onClose();
    },
  };
}
