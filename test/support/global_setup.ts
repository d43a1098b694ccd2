import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/db/open_db.js';
import { migrate } from '../../src/db/migrate.js';

// PGlite's first start (initdb in WASM) takes seconds. Do it once per run, with migrations
// applied, and let each test file start from a copy (see test_db.ts).
export default async function setup({ provide }: { provide: (key: 'pgliteTemplate', value: string) => void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-template-'));
  const db = await openDb({ databaseUrl: undefined, dataDir: dir, poolSize: 1, role: 'server' });
  await migrate(db);
  await db.close();
  provide('pgliteTemplate', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}
