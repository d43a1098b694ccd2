import { mkdir, readFile, rm, writeFile, open } from 'node:fs/promises';
import path from 'node:path';

// PGlite is single-process: two processes opening one data directory corrupt it. The process
// that opens it holds DATA_DIR/gatehouse.lock (its pid, and the socket it serves the database
// on); anyone else either talks through that socket or stays out.

export interface LockInfo {
  pid: number;
  socketDir: string | null;
  role: string;
}

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
    // Our own pid counts as a live holder: opening one data directory twice in one process
    // would run two PGlite instances on the same files just the same.
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Takes the lock, or returns the live holder's info. Stale locks are cleared. */
export async function acquireLock(dataDir: string, role: string): Promise<{ acquired: true } | { acquired: false; holder: LockInfo }> {
  await mkdir(dataDir, { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockPath(dataDir), 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, socketDir: null, role } satisfies LockInfo));
      await handle.close();
      return { acquired: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readLock(dataDir);
      if (holder) return { acquired: false, holder };
      await rm(lockPath(dataDir), { force: true });
    }
  }
  throw new Error(`could not take ${lockPath(dataDir)}`);
}

export async function publishSocket(dataDir: string, role: string, socketDir: string): Promise<void> {
  await writeFile(lockPath(dataDir), JSON.stringify({ pid: process.pid, socketDir, role } satisfies LockInfo), { mode: 0o600 });
}

export async function releaseLock(dataDir: string): Promise<void> {
  try {
    const info = JSON.parse(await readFile(lockPath(dataDir), 'utf8')) as LockInfo;
    if (info.pid === process.pid) await rm(lockPath(dataDir), { force: true });
  } catch {
    // already gone
  }
}
