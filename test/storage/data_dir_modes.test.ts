import { chmod, chown, cp, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, inject } from 'vitest';
import { DbOpenError, openDb } from '../../src/db/open_db.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/db.js';
import { expectOneLineError, runCli } from '../cli/cli_harness.js';

// Issue #10, point 1: the embedded database's files are private. PGlite creates them 0666 in
// 0755 folders whatever the umask, so any local user could read the WAL (argon2 hashes, private
// JWKs) and write it. The attack here is simply another user's view: every file or folder under
// DATA_DIR with a group or other permission bit is one they could open. Embedded only: a
// Postgres server keeps its own files.

/** Every path under `dir` (itself included) a group member or other user could open. */
async function readableByOthers(dir: string): Promise<string[]> {
  const open: string[] = [];
  const walk = async (target: string) => {
    const stats = await lstat(target);
    if (stats.isSymbolicLink()) return;
    if (stats.mode & 0o077) open.push(`${(stats.mode & 0o777).toString(8)} ${path.relative(dir, target) || '.'}`);
    if (stats.isDirectory()) for (const name of await readdir(target)) await walk(path.join(target, name));
  };
  await walk(dir);
  return open;
}

/** As an earlier release left it: folders 0755, files 0666. */
async function loosen(dir: string): Promise<void> {
  const stats = await lstat(dir);
  await chmod(dir, stats.isDirectory() ? 0o755 : 0o666);
  if (stats.isDirectory()) for (const name of await readdir(dir)) await loosen(path.join(dir, name));
}

/** Writes enough to create files after start: a table (new relation files) and a new WAL segment. */
async function createFilesWhileRunning(db: Db): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS mode_probe (x text)`);
  await db.query(`INSERT INTO mode_probe SELECT repeat('x', 1000) FROM generate_series(1, 2000)`);
  await db.query(`CREATE INDEX IF NOT EXISTS mode_probe_x ON mode_probe (x)`);
  await db.query(`SELECT pg_switch_wal()`);
  await db.query(`CHECKPOINT`);
}

let parent: string;
let umask: number;
beforeEach(async () => {
  parent = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-modes-'));
  // The usual permissive umask of a service account, or worse: modes must not depend on it.
  umask = process.umask(0o000);
});
afterEach(async () => {
  process.umask(umask);
  await rm(parent, { recursive: true, force: true });
});

const open = (dataDir: string) => openDb({ databaseUrl: undefined, dataDir, poolSize: 2, role: 'server' });

describe('embedded DATA_DIR modes', () => {
  it('a new DATA_DIR is created owner-only, and files PGlite creates while running stay private', { timeout: 120_000 }, async () => {
    const dataDir = path.join(parent, 'new', 'data');
    const db = await open(dataDir);
    try {
      await migrate(db);
      expect((await lstat(dataDir)).mode & 0o777).toBe(0o700);
      expect(await readableByOthers(dataDir)).toEqual([]);
      await createFilesWhileRunning(db);
      expect(await readableByOthers(dataDir)).toEqual([]);
    } finally {
      await db.close();
    }
    expect(await readableByOthers(dataDir)).toEqual([]);
    // and nothing was left readable in the folders created above it
    expect(await readableByOthers(path.join(parent, 'new'))).toEqual([]);
  });

  it('repairs a DATA_DIR an earlier release left 0666/0755 at start, and keeps it private while running', async () => {
    const dataDir = path.join(parent, 'data');
    await cp(inject('pgliteTemplate'), dataDir, { recursive: true });
    await loosen(dataDir);
    expect((await readableByOthers(dataDir)).length).toBeGreaterThan(100);
    const db = await open(dataDir);
    try {
      expect(await readableByOthers(dataDir)).toEqual([]);
      await createFilesWhileRunning(db);
      expect(await readableByOthers(dataDir)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('the CLI opening the data directory itself repairs and keeps it private too', async () => {
    const dataDir = path.join(parent, 'data');
    await cp(inject('pgliteTemplate'), dataDir, { recursive: true });
    await loosen(dataDir);
    const result = await runCli(['keys', 'list'], { env: { DATA_DIR: dataDir } });
    expect(result.code).toBe(0);
    expect(await readableByOthers(dataDir)).toEqual([]);
  });

  // Tests run as root here and in CI (.ci/run): only root can hand a file to another user.
  it('refuses to open a DATA_DIR holding a file of another user, with a clear message', async () => {
    expect(process.getuid?.()).toBe(0);
    const dataDir = path.join(parent, 'data');
    await cp(inject('pgliteTemplate'), dataDir, { recursive: true });
    const foreign = path.join(dataDir, 'pgdata', 'PG_VERSION');
    await chown(foreign, 65534, 65534);

    const refused = await open(dataDir).then(
      (db) => db.close().then(() => 'opened'),
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DbOpenError);
    expect((refused as Error).message).toMatch(/^cannot make the embedded database in .* private: .*PG_VERSION belongs to user 65534/);

    const cli = await runCli(['keys', 'list'], { env: { DATA_DIR: dataDir } });
    expectOneLineError(cli, /cannot make the embedded database in .* private: .*PG_VERSION belongs to user 65534.*chown/);

    // The lock was let go: once the owner is fixed, it opens.
    await chown(foreign, 0, 0);
    const db = await open(dataDir);
    await db.close();
  });
});
