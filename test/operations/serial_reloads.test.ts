import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { openDb } from '../../src/db/open_db.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/db.js';
import { syncClients } from '../../src/storage/client_sync.js';
import { createTestDb, type Backend, type TestDb } from '../support/test_db.js';
import { availableBackends, serverBackends } from '../support/storage_backends.js';
import { testConfig } from '../support/fixtures.js';
import { tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { spawnGatehouse, type LogLine } from '../support/spawn_gatehouse.js';

// Issue #10, point 9: reloads are serial. Two SIGHUPs a few ms apart used to run two reloads at
// once; the older file, slower to apply (a new API needs a validation provider of its own),
// finished last and left the database and the serving provider on it, with a client the newest
// file removed still registered. And two instances syncing clients at once lost each other's
// rows: a sync that waited on the other's row locks resumed without seeing the clients the other
// had added, so it could not remove them.

const DOOMED = { clientId: 'doomed', secret: 'doomed-secret-0123456789abcdef0123456789' };
const NEWCOMER = { clientId: 'newcomer', secret: 'newcomer-secret-0123456789abcdef012345678' };
const ccClient = (c: { clientId: string; secret: string }) => ({
  client_id: c.clientId,
  client_secret: c.secret,
  grant_types: ['client_credentials'],
  scope: 'things:read',
});

function config(clients: Record<string, unknown>[], extraApis = 0): GatehouseConfig {
  const base = testConfig();
  const apis = [...base.apis];
  for (let i = 0; i < extraApis; i++)
    apis.push({
      identifier: `https://extra-${i}.example.test`,
      name: `Extra ${i}`,
      scopes: [`extra${i}:read`],
      access_token_format: 'jwt',
      access_token_ttl: 120,
    } as (typeof apis)[number]);
  return gatehouseConfigSchema.parse({ clients: [...base.clients, ...clients], apis });
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function configClients(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ client_id: string }>(`SELECT client_id FROM clients WHERE source = 'config' ORDER BY client_id`);
  return rows.map((r) => r.client_id);
}

describe.each(availableBackends())('SIGHUPs a few ms apart on %s', (backend: Backend) => {
  it('the database and the served provider end on the last file', { timeout: 120_000 }, async () => {
    const testDb: TestDb = await createTestDb(backend, { open: false });
    cleanups.push(() => testDb.drop());
    const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
    await writeFile(configFile, JSON.stringify(config([ccClient(DOOMED)])));
    const env = { CONFIG_FILE: configFile, ...(backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl } : { DATA_DIR: testDb.dataDir }) };
    const server = await spawnGatehouse({ env });
    cleanups.push(() => server.kill());
    const cc = (c: { clientId: string; secret: string }) => tokenRequest(server.issuer, c, { grant_type: 'client_credentials', scope: 'things:read' });
    expect((await cc(DOOMED)).status).toBe(200);

    // Older files keep `doomed` and add APIs (slow to apply); the last drops it, adds `newcomer`
    // and keeps the APIs the server started with (quick to apply).
    const files = [config([ccClient(DOOMED)], 3), config([ccClient(DOOMED)], 2), config([ccClient(NEWCOMER)])];
    for (const file of files) {
      // Replaced whole (as an operator's deploy should), so a reload that reads the file while
      // the next one is being written never sees half a file.
      await writeFile(`${configFile}.next`, JSON.stringify(file));
      await rename(`${configFile}.next`, configFile);
      server.child.kill('SIGHUP');
      await sleep(5);
    }
    // Every signal answered: each reload logs how many signals it read the file for.
    const finished = (l: LogLine) => l.event === 'config.reloaded' || l.event === 'config.reload_failed';
    await eventually(
      () =>
        server
          .logs()
          .filter(finished)
          .reduce((n, l) => n + ((l.signals as number | undefined) ?? 1), 0) >= files.length,
      {
        what: 'every SIGHUP to be answered',
        timeoutMs: 60_000,
      },
    );
    expect(server.logs().filter((l) => l.event === 'config.reload_failed')).toEqual([]);

    expect((await cc(DOOMED)).body.error).toBe('invalid_client');
    expect((await cc(NEWCOMER)).status).toBe(200);
    const db = await openDb(
      backend === 'postgres'
        ? { databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir, poolSize: 1, role: 'cli' }
        : { databaseUrl: undefined, dataDir: testDb.dataDir, poolSize: 1, role: 'cli' },
    );
    try {
      const last = files.at(-1)!.clients.map((c) => c.client_id);
      expect(await configClients(db)).toEqual([...last, 'gatehouse-account'].sort());
    } finally {
      await db.close();
    }
    await server.kill();
  });
});

describe.each(serverBackends())('two instances syncing clients at once on %s', () => {
  it('the sync that runs second sees the clients the first added, and removes those its file drops', { timeout: 60_000 }, async () => {
    const testDb = await createTestDb('postgres');
    cleanups.push(() => testDb.drop());
    const { db } = testDb;
    await migrate(db);
    const base = testConfig().clients;
    await syncClients(db, base);

    // Instance A applies an older file (adds `doomed`) and is slow to commit; instance B applies
    // the newer file (without `doomed`) meanwhile.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let statementsDone = false;
    const slowToCommit: Db = {
      ...db,
      transaction: (fn) =>
        db.transaction(async (tx) => {
          const out = await fn(tx);
          statementsDone = true;
          await gate;
          return out;
        }),
    };
    const first = syncClients(slowToCommit, config([ccClient(DOOMED)]).clients);
    await eventually(() => statementsDone, { what: 'the first sync to have written its rows' });
    const second = syncClients(db, config([]).clients);
    await eventually(
      async () => {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n === 1;
      },
      { what: 'the second sync to wait for the first' },
    );
    release();
    expect((await first).added).toEqual(['doomed']);
    expect((await second).removed).toEqual(['doomed']);
    expect(await configClients(db)).toEqual(base.map((c) => c.client_id).sort());
  });
});
