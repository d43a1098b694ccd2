import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/program.js';
import { openDb } from '../../src/db/open_db.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/db.js';
import { createTestDb, defaultBackend, type Backend, type TestDb } from '../support/test_db.js';

// Runs `gatehouse …` in-process with its own stdin/stdout/stderr/env, and gives each test file
// a database the CLI can reach plus a handle on the same database to check rows with.

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** what is piped to the command's stdin (nothing by default) */
  stdin?: string;
  /** pretend stdin is a terminal */
  tty?: boolean;
}

export async function runCli(args: string[], { env = {}, stdin = '', tty = false }: RunOptions = {}): Promise<CliResult> {
  const input = Object.assign(Readable.from(stdin ? [Buffer.from(stdin)] : []), { isTTY: tty || undefined });
  let stdout = '';
  let stderr = '';
  const code = await run(['node', 'gatehouse', ...args], {
    stdin: input,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    // Only what the test passes: nothing leaks in from the environment running the tests.
    env,
  });
  return { code, stdout, stderr };
}

/** The contract for every failure: exit 1 and exactly one `gatehouse: …` line on stderr. */
export function expectOneLineError(result: CliResult, message: RegExp): void {
  const lines = result.stderr.split('\n').filter(Boolean);
  if (result.code !== 1 || lines.length !== 1 || !/^gatehouse: /.test(lines[0]!) || !message.test(lines[0]!)) {
    throw new Error(`expected exit 1 and one line matching ${String(message)}; got exit ${result.code}, stderr:\n${result.stderr}`);
  }
  if (/\n\s+at /.test(result.stderr + result.stdout)) throw new Error(`stack trace printed:\n${result.stderr}`);
}

export interface CliDatabase {
  backend: Backend;
  /** DATABASE_URL / DATA_DIR for the CLI */
  env: Record<string, string>;
  /** the same database, to check rows */
  db: Db;
  close(): Promise<void>;
}

async function holdEmbedded(dataDir: string): Promise<ChildProcess> {
  const holder = spawn(process.execPath, [fileURLToPath(new URL('./hold_embedded_db.ts', import.meta.url)), dataDir], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  holder.stderr.on('data', (chunk) => (output += String(chunk)));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (chunk) => {
      if (String(chunk).includes('ready')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`database holder exited (${String(code)}): ${output}`)));
  });
  return holder;
}

/**
 * A fresh, migrated database. Embedded: held open by a separate process, as a running server
 * holds it, so the CLI borrows it through its socket (the open-it-yourself path is covered by
 * binary.test.ts and migrate.test.ts).
 */
export async function createCliDatabase(backend: Backend = defaultBackend()): Promise<CliDatabase> {
  if (backend === 'postgres') {
    const testDb: TestDb = await createTestDb('postgres');
    await migrate(testDb.db);
    return {
      backend,
      env: { DATABASE_URL: testDb.databaseUrl, DATA_DIR: testDb.dataDir },
      db: testDb.db,
      close: () => testDb.drop(),
    };
  }
  const testDb = await createTestDb('embedded', { open: false });
  const holder = await holdEmbedded(testDb.dataDir);
  const db = await openDb({ databaseUrl: undefined, dataDir: testDb.dataDir, poolSize: 2, role: 'cli' });
  return {
    backend,
    env: { DATA_DIR: testDb.dataDir },
    db,
    async close() {
      await db.close();
      const exited = once(holder, 'exit');
      holder.kill('SIGTERM');
      await exited;
      await testDb.drop();
    },
  };
}
