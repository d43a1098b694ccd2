import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

// The serving process's pid, where `gatehouse config reload` (and an init system, a deploy
// script) finds whom to send SIGHUP. Written at start by the process that answers SIGHUP (the
// only one, or a cluster's primary), removed when it stops.

export async function writePidFile(file: string, pid: number = process.pid): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Whole or not at all: a reader never sees a half-written number.
  const partial = `${file}.${pid}.tmp`;
  await writeFile(partial, `${pid}\n`, { mode: 0o644 });
  await rename(partial, file);
}

/** Removes the file if it still names this process (a newer server may have taken it over). */
export async function removePidFile(file: string, pid: number = process.pid): Promise<void> {
  if ((await readPidFile(file)) === pid) await rm(file, { force: true });
}

/** The pid in the file; undefined when there is no file; NaN when it holds no pid. */
export async function readPidFile(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return /^\s*[1-9]\d{0,9}\s*$/.test(text) ? Number(text) : Number.NaN;
}
