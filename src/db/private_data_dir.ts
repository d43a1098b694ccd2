import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { GatehouseError } from '../core/errors.js';

// DATA_DIR holds the embedded database: its WAL carries argon2 hashes and private JWKs. PGlite
// creates its files 0666 in 0755 folders whatever the umask (it chmods them itself), so every
// start puts DATA_DIR and everything under it back to owner-only before the database opens;
// private_node_fs.ts keeps the files PGlite creates afterwards private.

const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

export class DataDirNotPrivate extends GatehouseError {
  constructor(message: string) {
    super('ERR_DATA_DIR_NOT_PRIVATE', message);
  }
}

function refuse(dataDir: string, target: string, why: string): DataDirNotPrivate {
  return new DataDirNotPrivate(
    `cannot make the embedded database in ${dataDir} private: ${target} ${why}. ` +
      'Gatehouse keeps DATA_DIR owner-only (0700 folders, 0600 files) because it holds password hashes and private keys: ' +
      'run it as the owner of DATA_DIR, or fix the owner (chown -R) of that folder',
  );
}

async function repair(dataDir: string, target: string, uid: number | undefined): Promise<void> {
  const stats = await lstat(target);
  // A link is not followed: chmod would change whatever it points at, maybe outside DATA_DIR.
  if (stats.isSymbolicLink()) return;
  // Like Postgres ("data directory has wrong ownership"): a file of another user is not ours
  // to take over, and root could chmod it but not make it private from its owner.
  if (uid !== undefined && stats.uid !== uid) throw refuse(dataDir, target, `belongs to user ${stats.uid}, not to this process's user ${uid}`);
  const wanted = stats.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  if ((stats.mode & 0o777) !== wanted) {
    await chmod(target, wanted).catch((error: unknown) => {
      throw refuse(dataDir, target, `cannot be changed to mode ${wanted.toString(8)} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    });
  }
  if (stats.isDirectory()) {
    for (const name of await readdir(target)) await repair(dataDir, path.join(target, name), uid);
  }
}

/** Creates DATA_DIR owner-only, or puts it and everything under it back to 0700/0600. */
export async function makeDataDirPrivate(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE }).catch((error: unknown) => {
    throw refuse(dataDir, dataDir, `cannot be created (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  });
  await repair(dataDir, dataDir, process.getuid?.());
}
