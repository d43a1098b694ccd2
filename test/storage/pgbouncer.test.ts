import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open_db.js';
import { splitPoolMode } from '../../src/db/pool_mode.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/db.js';
import { directDatabaseUrl, startPgBouncer, type RunningPgBouncer } from '../support/pgbouncer.js';
import { serverBackends } from '../support/storage_backends.js';
import type { TestDb } from '../support/test_db.js';
import { startGatehouse } from '../support/start_gatehouse.js';
import { ALICE, SECRETS } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { introspect, revoke } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';

// Production puts PgBouncer in transaction pooling mode in front of Postgres (deploy/pgbouncer.ini):
// each transaction, and each statement outside one, may run on a different server connection.
// With `?pool_mode=transaction` on DATABASE_URL, Gatehouse keeps no state a server connection
// would have to remember: unnamed statements, a transaction-level migration lock.

// The parameter itself (on every run: the PgBouncer suite below needs a Postgres server).
describe('DATABASE_URL pool_mode', () => {
  it('is session mode when absent, and leaves the URL alone', () => {
    const url = 'postgres://gatehouse:secret@db:5432/gatehouse?sslmode=require';
    expect(splitPoolMode(url)).toEqual({ connectionString: url, poolMode: 'session' });
  });

  it('takes pool_mode=transaction off the URL, keeping the other parameters', () => {
    const { connectionString, poolMode } = splitPoolMode('postgres://gatehouse@pgbouncer:6432/gatehouse?sslmode=require&pool_mode=transaction');
    expect(poolMode).toBe('transaction');
    expect(connectionString).toBe('postgres://gatehouse@pgbouncer:6432/gatehouse?sslmode=require');
  });

  it('refuses another value with a message naming the setting, before any connection is tried', async () => {
    expect(() => splitPoolMode('postgres://db/gatehouse?pool_mode=statement')).toThrow(
      'DATABASE_URL: pool_mode must be "session" or "transaction", not "statement"',
    );
    await expect(
      openDb({ databaseUrl: 'postgres://127.0.0.1:1/x?pool_mode=statement', dataDir: '/nonexistent', poolSize: 1, role: 'server' }),
    ).rejects.toMatchObject({
      code: 'ERR_DB_OPEN',
      message: expect.stringContaining('pool_mode must be'),
    });
  });
});

const NAMED = { name: 'pgbouncer_probe', text: 'SELECT $1::int AS n' };

/** The Postgres server itself, even when this whole run already goes through PgBouncer (pgbouncer_setup.ts). */
function serverUrl(): string {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.searchParams.delete('pool_mode');
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

describe.each(serverBackends())('behind PgBouncer in transaction pooling (%s)', () => {
  let bouncer: RunningPgBouncer;
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const opened: Db[] = [];
  let dataDir: string;

  /** DATABASE_URL of the test database through PgBouncer, with or without Gatehouse's pool_mode parameter */
  function bouncedUrl(poolMode?: 'transaction'): string {
    const url = new URL(bouncer.url);
    url.pathname = `/${name}`;
    url.search = poolMode ? `?pool_mode=${poolMode}` : '';
    return url.toString();
  }
  async function open(poolMode?: 'transaction', poolSize = 5): Promise<Db> {
    const db = await openDb({ databaseUrl: bouncedUrl(poolMode), dataDir, poolSize, role: 'server' });
    opened.push(db);
    return db;
  }

  beforeAll(async () => {
    bouncer = await startPgBouncer(serverUrl());
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-pgbouncer-data-'));
    await adminQuery(`CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    for (const db of opened) await db.close().catch(() => undefined);
    await bouncer?.stop();
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lets two instances migrate at once through it; the schema is applied once and the lock is not left behind', async () => {
    const [a, b] = [await open('transaction'), await open('transaction')];
    const [ranA, ranB] = await Promise.all([migrate(a), migrate(b)]);
    const expected = (await listMigrations()).map((m) => m.version);
    expect([...ranA, ...ranB].sort()).toEqual(expected);
    expect(ranA.length === 0 || ranB.length === 0).toBe(true);
    // A third instance starting later is not kept waiting by a lock left on some server connection.
    const third = await open('transaction');
    expect(await migrate(third)).toEqual([]);
  });

  it('runs named statements from many connections at once with pool_mode=transaction', async () => {
    const db = await open('transaction');
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => db.query<{ n: number }>({ ...NAMED, values: [i] })));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual([]);
    expect(results.map((r) => (r as PromiseFulfilledResult<{ rows: { n: number }[] }>).value.rows[0]!.n)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('fails the same statements without the parameter: the server connection does not keep the name (why the parameter exists)', async () => {
    const db = await open(undefined);
    // Which server connection each statement meets is PgBouncer's choice: a batch may happen to
    // land every statement where its name lives. Batches go on until one does not (the first, nearly always).
    let reasons: string[] = [];
    for (let batch = 0; batch < 20 && reasons.length === 0; batch++) {
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => db.query({ ...NAMED, values: [i] })));
      reasons = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    }
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons[0]).toMatch(/prepared statement "pgbouncer_probe" (does not exist|already exists)/);
  });

  it('serves a sign-in, a refresh and introspection, and keeps refresh rotation exact', async () => {
    const db = await open('transaction');
    const testDb: TestDb = { db, backend: 'postgres', databaseUrl: bouncedUrl('transaction'), dataDir, drop: async () => undefined };
    const gh = await startGatehouse({ testDb });
    try {
      await gh.createUser(ALICE);
      const rp = await discover(gh.issuer, 'web', SECRETS.web);
      const { tokens } = await signIn(rp, {
        scope: 'openid profile offline_access',
        params: { prompt: 'consent' },
        credentials: { login: ALICE.username, password: ALICE.password },
        consent: 'allow',
      });
      expect(tokens.refresh_token).toBeTypeOf('string');
      const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      expect((await introspect(gh.issuer, { clientId: 'web', secret: SECRETS.web }, refreshed.access_token)).body).toMatchObject({ active: true });
      // The rotated refresh token used again: refused, and the grant's tokens end with it.
      await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await introspect(gh.issuer, { clientId: 'web', secret: SECRETS.web }, refreshed.access_token)).body).toMatchObject({ active: false });
    } finally {
      await gh.close();
    }
  });

  // The cache's listener needs a server session of its own, which a transaction pooler does not
  // keep (README "Caches"): without DATABASE_LISTEN_URL there is no cache, with it the cache
  // follows revocations made at another instance as it does on a direct connection.
  describe('the read cache', () => {
    const web = { clientId: 'web', secret: SECRETS.web };
    async function twoInstances(env: Record<string, string>) {
      const db = await open('transaction');
      const testDb: TestDb = { db, backend: 'postgres', databaseUrl: bouncedUrl('transaction'), dataDir, drop: async () => undefined };
      const a = await startGatehouse({ testDb, env });
      const b = await startGatehouse({ testDb, env });
      return { a, b, close: async () => Promise.all([a.close(), b.close()]) };
    }
    async function revokedAtAInactiveAtB(a: { issuer: string }, b: { issuer: string }, hits: () => number): Promise<{ hitsBefore: number; hitsAfter: number }> {
      const rp = await discover(a.issuer, 'web', SECRETS.web);
      const { tokens } = await signIn(rp, { scope: 'openid profile', credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
      const hitsBefore = hits();
      for (let i = 0; i < 3; i++) expect((await introspect(b.issuer, web, tokens.access_token)).body).toMatchObject({ active: true });
      const hitsAfter = hits();
      expect((await revoke(a.issuer, web, tokens.access_token)).status).toBe(200);
      const start = Date.now();
      while ((await introspect(b.issuer, web, tokens.access_token)).body.active !== false) expect(Date.now() - start).toBeLessThan(3_000);
      for (let i = 0; i < 20; i++) expect((await introspect(b.issuer, web, tokens.access_token)).body).toEqual({ active: false });
      return { hitsBefore, hitsAfter };
    }

    it('is off without DATABASE_LISTEN_URL, and every answer is right', async () => {
      const { a, b, close } = await twoInstances({});
      try {
        expect(a.gatehouse.caches.disabledBecause).toMatch(/transaction pooler/);
        await a.createUser(ALICE).catch(() => undefined);
        const hits = () => b.gatehouse.caches.read.stats()[0]!.hits;
        const { hitsBefore, hitsAfter } = await revokedAtAInactiveAtB(a, b, hits);
        expect(hitsAfter).toBe(hitsBefore);
      } finally {
        await close();
      }
    });

    it('is on with DATABASE_LISTEN_URL naming the server directly, and follows a revocation made at the other instance', async () => {
      const { a, b, close } = await twoInstances({ DATABASE_LISTEN_URL: directDatabaseUrl(bouncedUrl()) });
      try {
        expect(a.gatehouse.caches.disabledBecause).toBeNull();
        await eventually(() => a.gatehouse.caches.read.active && b.gatehouse.caches.read.active, { what: 'both listeners to connect' });
        await a.createUser(ALICE).catch(() => undefined);
        const hits = () => b.gatehouse.caches.read.stats()[0]!.hits;
        const { hitsBefore, hitsAfter } = await revokedAtAInactiveAtB(a, b, hits);
        expect(hitsAfter).toBeGreaterThan(hitsBefore);
      } finally {
        await close();
      }
    });
  });
});
