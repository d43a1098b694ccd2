import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// PGlite is single-process: two processes opening one data directory corrupt it. The process
// that opens it holds DATA_DIR/gatehouse.lock (its pid, and the socket it serves the database
// on); anyone else either talks through that socket or stays out.

export interface LockInfo {
  pid: number;
  socketDir: string | null;
  role: string;
  /** this process's incarnation: a process restarted after a crash may get the same pid */
  instance?: string;
}

// A container's main process is pid 1 (or another fixed pid) every time it starts, so after a
// SIGKILL or OOM kill the restarted server finds a lock naming its own pid: the pid alone cannot
// tell "opened earlier by me" from "left by the process I replace".
const INSTANCE = randomUUID();

export const lockPath = (dataDir: string) => path.join(dataDir, 'gatehouse.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readLock(dataDir: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(lockPath(dataDir), 'utf8')) as LockInfo;
    if (typeof info.pid !== 'number') return null;
    // Our own pid counts as a live holder when this very process wrote the lock: opening one
    // data directory twice in one process would run two PGlite instances on the same files.
    if (info.pid === process.pid) return info.instance === INSTANCE ? info : null;
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Takes the lock, or returns the live holder's info. Stale locks are cleared. */
export async function acquireLock(dataDir: string, role: string): Promise<{ acquired: true } | { acquired: false; holder: LockInfo }> {
  // Owner-only from the start (private_data_dir.ts repairs an existing one once the lock is ours).
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockPath(dataDir), 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, socketDir: null, role, instance: INSTANCE } satisfies LockInfo));
      await handle.close();
      return { acquired: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readLock(dataDir);
      if (holder) return { acquired: false, holder };
      await removeStaleLock(dataDir);
    }
  }
  throw new Error(`could not take ${lockPath(dataDir)}`);
}

/** Removes a dead holder's lock, and the socket directory it left in the temp dir. */
async function removeStaleLock(dataDir: string): Promise<void> {
  try {
    const { socketDir } = JSON.parse(await readFile(lockPath(dataDir), 'utf8')) as Partial<LockInfo>;
    // Only a directory of the shape open_db.ts creates: the lock file is not trusted to name
    // anything else for deletion.
    if (typeof socketDir === 'string' && path.dirname(socketDir) === os.tmpdir() && /^gatehouse-db-\w+$/.test(path.basename(socketDir))) {
      await rm(socketDir, { recursive: true, force: true });
    }
  } catch {
    // unreadable: the lock goes all the same
  }
  await rm(lockPath(dataDir), { force: true });
}

export async function publishSocket(dataDir: string, role: string, socketDir: string): Promise<void> {
  await writeFile(lockPath(dataDir), JSON.stringify({ pid: process.pid, socketDir, role, instance: INSTANCE } satisfies LockInfo), { mode: 0o600 });
}

export async function releaseLock(dataDir: string): Promise<void> {
  try {
    const info = JSON.parse(await readFile(lockPath(dataDir), 'utf8')) as LockInfo;
    if (info.pid === process.pid && info.instance === INSTANCE) await rm(lockPath(dataDir), { force: true });
  } catch {
    // already gone
  }
}
