import { loadEnv, type Env } from '../config/env.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open_db.js';
import type { PasswordSource } from './read_password.js';

// What every command gets: the process's streams and environment (injected, so tests run
// commands in-process), the same env the server reads, and the same database.

export interface CliIo {
  stdin: PasswordSource;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

export interface CliContext {
  readonly io: CliIo;
  /** The server's environment (INTERFACE.md "Environment"), validated on first use. */
  env(): Env;
  /** Writes one line (or a preformatted block) to stdout. */
  print(text: string): void;
  /**
   * Opens the database for one command and closes it after. The schema is brought up to date
   * first (as the server does at start), so a fresh checkout needs no separate step; pass
   * `{ migrate: false }` to handle migrations yourself.
   */
  withDb<T>(fn: (db: Db) => Promise<T>, options?: { migrate?: boolean }): Promise<T>;
}

// A command uses at most one transaction plus one query at a time.
const CLI_POOL_SIZE = 2;

export function createCliContext(io: CliIo): CliContext {
  let env: Env | undefined;
  const ctx: CliContext = {
    io,
    env: () => (env ??= loadEnv(io.env)),
    print: (text) => void io.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    async withDb(fn, { migrate: migrateFirst = true } = {}) {
      const { databaseUrl, dataDir, dbConnectTimeoutMs, dbQueryTimeoutMs } = ctx.env();
      // role 'cli': borrows a running server's embedded database through its socket.
      const db = await openDb({
        databaseUrl,
        dataDir,
        poolSize: CLI_POOL_SIZE,
        role: 'cli',
        connectTimeoutMs: dbConnectTimeoutMs,
        queryTimeoutMs: dbQueryTimeoutMs,
      });
      let result;
      try {
        if (migrateFirst) {
          const applied = await migrate(db);
          if (applied.length) io.stderr.write(`note: applied database migrations ${applied.join(', ')}\n`);
        }
        result = await fn(db);
      } catch (error) {
        await db.close().catch(() => undefined);
        throw error;
      }
      // Closing the embedded database flushes it to disk: a failure here is the command's failure.
      await db.close();
      return result;
    },
  };
  return ctx;
}
