import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../src/db/open_db.js';
import { migrate } from '../../src/db/migrate.js';

// PGlite's first start (initdb in WASM) takes seconds. Do it once, with migrations applied, and
// let each test file start from a copy (see test_db.ts). The template is kept in the temporary
// directory between runs, under a name derived from everything it is made of (the migrations, the
// database code, the PGlite version): a change to any of them makes a new one, an unchanged tree
// reuses the last (about 10 s saved a run on this machine).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY = 'template-ready';

async function filesUnder(dir: string): Promise<string[]> {
  const names = (await readdir(path.join(ROOT, dir))).sort();
  return names.map((name) => path.join(dir, name));
}

async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...(await filesUnder('migrations')), ...(await filesUnder('src/db')), 'node_modules/@electric-sql/pglite/package.json']) {
    hash
      .update(`${file}\0`)
      .update(await readFile(path.join(ROOT, file)))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 20);
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

async function buildTemplate(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-template-build-'));
  const db = await openDb({ databaseUrl: undefined, dataDir: dir, poolSize: 1, role: 'server' });
  await migrate(db);
  await db.close();
  await writeFile(path.join(dir, READY), '');
  return dir;
}

export default async function setup({ provide }: { provide: (key: 'pgliteTemplate', value: string) => void }) {
  const cached = path.join(os.tmpdir(), `gatehouse-template-${await templateKey()}`);
  if (!(await exists(path.join(cached, READY)))) {
    const built = await buildTemplate();
    // Another run may have finished the same template meanwhile: keep whichever landed first.
    await rename(built, cached).catch(async () => {
      await rm(built, { recursive: true, force: true });
      if (!(await exists(path.join(cached, READY)))) throw new Error(`could not store the PGlite template at ${cached}`);
    });
  }
  provide('pgliteTemplate', cached);
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}
