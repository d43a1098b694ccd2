import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';
import { eventually } from '../support/eventually.js';
import { directDatabaseUrl } from '../support/pgbouncer.js';

// Migration 0021: every change a read cache depends on is announced on `gatehouse_cache` by the
// database itself, whoever writes (README "Caches"). Inserts and the sweep's deletes of expired
// rows announce nothing. On embedded PGlite the triggers run too (writes succeed), though its
// socket carries no notifications to listen to.

const SETUP = [
  `INSERT INTO oidc_models (model, id, payload, grant_id, uid, expires_at) VALUES
     ('AccessToken', 'tok', '{}', 'gr', NULL, now() + interval '1 hour'),
     ('Grant', 'gr', '{}', NULL, NULL, now() + interval '1 hour'),
     ('Session', 'ses', '{}', NULL, 'uid1', now() + interval '1 hour'),
     ('AccessToken', 'old', '{}', NULL, NULL, now() - interval '1 second'),
     ('Interaction', 'int', '{}', NULL, NULL, now() + interval '1 hour')`,
  `INSERT INTO users (sub, username) VALUES ('0b5c6c2e-4b1e-4c43-9d6e-0a3f4f0e7a11', 'notified')`,
];

const CHANGES: [string, string[]][] = [
  [`UPDATE oidc_models SET consumed_at = now() WHERE model = 'AccessToken' AND id = 'tok'`, ['t:AccessToken:tok']],
  [`DELETE FROM oidc_models WHERE model = 'Grant' AND id = 'gr'`, ['g:gr']],
  [`DELETE FROM oidc_models WHERE model = 'Session' AND id = 'ses'`, ['s:uid1']],
  // Expired already: the sweep's deletes say nothing. An interaction is cached by no one.
  [`DELETE FROM oidc_models WHERE id IN ('old', 'int')`, []],
  [`UPDATE users SET name = 'N' WHERE username = 'notified'`, ['a:0b5c6c2e-4b1e-4c43-9d6e-0a3f4f0e7a11']],
  [`UPDATE clients SET metadata = metadata WHERE client_id = 'c1'`, ['c:c1']],
  [`UPDATE keys SET kind = kind`, ['k']],
];

describe.each(availableBackends())('migration 0021 on %s', (backend) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    expect(await migrate(testDb.db)).toContain('0021');
    for (const sql of SETUP) await testDb.db.query(sql);
    await testDb.db.query(`INSERT INTO clients (client_id, metadata) VALUES ('c1', '{}')`);
  });
  afterAll(() => testDb?.drop());

  it('announces each change a cache depends on, and nothing else', async () => {
    const heard: string[] = [];
    let listener: pg.Client | undefined;
    if (backend === 'postgres') {
      listener = new pg.Client({ connectionString: directDatabaseUrl(testDb.databaseUrl) });
      await listener.connect();
      listener.on('notification', (n) => heard.push(n.payload ?? ''));
      await listener.query('LISTEN gatehouse_cache');
    }
    try {
      for (const [sql, expected] of CHANGES) {
        heard.length = 0;
        await testDb.db.query(sql);
        // A marker after each change: what came before it is everything the change announced.
        await testDb.db.query(`SELECT pg_notify('gatehouse_cache', 'marker')`);
        if (!listener) continue;
        await eventually(() => heard.includes('marker'), { what: `the marker after ${sql}` });
        expect(
          heard.filter((p) => p !== 'marker'),
          sql,
        ).toEqual(expected);
      }
    } finally {
      await listener?.end();
    }
  });

  it('announces inside the writing transaction: a rolled-back change says nothing', async () => {
    if (backend !== 'postgres') return;
    const heard: string[] = [];
    const listener = new pg.Client({ connectionString: directDatabaseUrl(testDb.databaseUrl) });
    await listener.connect();
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query('LISTEN gatehouse_cache');
    try {
      await testDb.db
        .transaction(async (client) => {
          await client.query(`UPDATE users SET name = 'rolled back' WHERE username = 'notified'`);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await testDb.db.query(`SELECT pg_notify('gatehouse_cache', 'marker')`);
      await eventually(() => heard.includes('marker'), { what: 'the marker' });
      expect(heard).toEqual(['marker']);
    } finally {
      await listener.end();
    }
  });
});
