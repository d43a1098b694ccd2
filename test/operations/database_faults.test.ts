import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openDb } from '../../src/db/open_db.js';
import { isDatabaseUnavailable } from '../../src/core/database_unavailable.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createTestDb, defaultBackend, type TestDb } from '../support/test_db.js';
import { serverBackends } from '../support/storage_backends.js';
import { ALICE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { introspect, revoke, tokenRequest, userinfo, type JsonResponse } from '../support/oauth_requests.js';
import { LOGIN_FORM, expectNoStackTrace, expectPage, expectRedirect, pageKind, startAuthorization, type Started } from '../support/hosted_pages.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { eventually } from '../support/eventually.js';
import { scrape, valueOf } from '../support/prometheus_text.js';
import { startDbFaultProxy, type DbFaultProxy } from '../support/db_fault_proxy.js';
import { freePort, spawnGatehouse, type LogLine, type SpawnedGatehouse } from '../support/spawn_gatehouse.js';

// Issue 4, point 6: when Postgres goes away, every request that needs it fails within seconds
// with 503 (temporarily_unavailable JSON for clients, a page for people, Retry-After for both),
// /readyz says not ready, the process stays up, and it recovers by itself when Postgres is back.
// The real server runs with the default timeouts, reaching Postgres through a proxy the test
// breaks: Postgres stopped, Postgres restarting, and a network that silently drops everything.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };
/** generous: the defaults (3 s to connect, 5 s a statement) answer within about 5 s */
const FAST_MS = 8000;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function timed<T>(run: () => Promise<T>): Promise<T & { ms: number }> {
  const started = Date.now();
  const result = await run();
  return Object.assign(result as object, { ms: Date.now() - started }) as T & { ms: number };
}

describe('what counts as the database being unavailable', () => {
  let testDb: TestDb;
  let proxy: DbFaultProxy;
  beforeAll(async () => {
    testDb = await createTestDb(defaultBackend());
    cleanups.push(() => testDb.drop());
    proxy = await startDbFaultProxy({ host: '127.0.0.1', port: await freePort() });
    cleanups.push(() => proxy.close());
  });

  const failureThrough = async (connect: () => void | Promise<void>) => {
    await connect();
    const db = await openDb({
      databaseUrl: proxy.url('postgres://postgres@localhost/postgres'),
      dataDir: testDb.dataDir,
      poolSize: 1,
      role: 'server',
      connectTimeoutMs: 500,
    });
    try {
      return await db.query('SELECT 1').then(
        () => undefined,
        (error: unknown) => error,
      );
    } finally {
      await db.close();
    }
  };

  it('a refused connection, a server starting up, a connection timeout: unavailable', async () => {
    const refused = await failureThrough(() => proxy.down());
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    const starting = await failureThrough(async () => {
      await proxy.restore();
      proxy.starting();
    });
    expect(starting).toMatchObject({ code: '57P03' });
    const hung = await failureThrough(() => proxy.blackhole());
    expect(hung).toBeInstanceOf(Error);
    for (const error of [refused, starting, hung]) expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('mistakes in a statement are not', async () => {
    const errors = await Promise.all([
      testDb.db.query('SELEC 1').catch((e: unknown) => e),
      testDb.db.query('SELECT * FROM no_such_table').catch((e: unknown) => e),
      testDb.db.query('INSERT INTO schema_migrations (version, name) SELECT version, name FROM schema_migrations').catch((e: unknown) => e),
    ]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(error), String(error)).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('ENOENT: no such file or directory'))).toBe(false);
  });
});

describe.each(serverBackends())('Gatehouse while %s is unavailable', () => {
  let testDb: TestDb;
  let proxy: DbFaultProxy;
  let server: SpawnedGatehouse;
  let rp: oidc.Configuration;
  /** a browser signed in as Alice */
  let browser: UserAgent;
  let tokens: { access: string; refresh: string };

  beforeAll(async () => {
    testDb = await createTestDb('postgres', { open: false });
    cleanups.push(() => testDb.drop());
    const target = new URL(testDb.databaseUrl);
    proxy = await startDbFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
    await writeFile(configFile, JSON.stringify(testConfig()));
    // Housekeeping every second, so the sweep and the key refresh meet every outage.
    server = await spawnGatehouse({
      env: { DATABASE_URL: proxy.url(testDb.databaseUrl), CONFIG_FILE: configFile, SWEEP_INTERVAL_SECONDS: '1', KEY_REFRESH_SECONDS: '1' },
    });
    cleanups.push(() => server.kill());
    const db = await openDb({ databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir, poolSize: 1, role: 'cli' });
    await createUsersRepo(db)
      .create(ALICE)
      .finally(() => db.close());

    rp = await discover(server.issuer, 'web', SECRETS.web);
    const signedIn = await signIn(rp, { scope: 'openid profile offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    browser = signedIn.ua;
    tokens = { access: signedIn.tokens.access_token, refresh: signedIn.tokens.refresh_token! };
  }, 180_000);
  // A test that failed mid-outage leaves the next one a working database all the same.
  afterEach(() => proxy.restore());

  /** A sign-in left at the login page, to be carried on after the outage. */
  async function pendingLogin(): Promise<Pending> {
    const started = await startAuthorization(rp, { scope: 'openid profile' });
    const page = expectPage(started.landing);
    expect(pageKind(page)).toBe('login');
    return { ...started, page };
  }

  const unavailableJson = (res: JsonResponse & { ms: number }, what: string) => {
    expect(res.status, what).toBe(503);
    expect(res.body, what).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(res.headers.get('retry-after'), what).toBe('5');
    expect(res.ms, what).toBeLessThan(FAST_MS);
  };
  const unavailablePage = (page: Page & { ms: number }, what: string) => {
    expect(page.status, what).toBe(503);
    expect(page.headers.get('retry-after'), what).toBe('5');
    expect(page.headers.get('content-type'), what).toMatch(/^text\/html/);
    expect(page.$('h1').text(), what).toBe('Temporarily unavailable');
    expect(page.$('.code').text(), what).toContain('temporarily_unavailable');
    expectNoStackTrace(page);
    expect(page.ms, what).toBeLessThan(FAST_MS);
  };

  /** Every kind of request, all at once, while the database is unreachable. */
  async function expectUnavailable(pending: Pending): Promise<void> {
    const [refresh, introspection, revocation, info, authorization, interaction, login, endSession, ready, health, discovery, jwks] = await Promise.all([
      timed(() => tokenRequest(server.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh })),
      timed(() => introspect(server.issuer, web, tokens.access)),
      timed(() => revoke(server.issuer, web, tokens.access)),
      timed(() => userinfo(server.issuer, tokens.access)),
      timed(async () => expectPage((await startAuthorization(rp, { ua: browser, scope: 'openid', params: { prompt: 'none' } })).landing)),
      timed(async () => expectPage(await pending.ua.follow(pending.page.url))),
      timed(async () => expectPage(await pending.ua.submit(pending.page, LOGIN_FORM, alice, RP))),
      timed(async () => expectPage(await browser.follow(`${server.issuer}/session/end`))),
      timed(() => fetch(`${server.issuer}/readyz`)),
      timed(() => fetch(`${server.issuer}/healthz`)),
      timed(() => fetch(`${server.issuer}/.well-known/openid-configuration`)),
      timed(() => fetch(`${server.issuer}/jwks`)),
    ]);
    unavailableJson(refresh, 'token endpoint');
    unavailableJson(introspection, 'introspection');
    unavailableJson(revocation, 'revocation');
    unavailableJson(info, 'userinfo');
    unavailablePage(authorization, 'authorization endpoint');
    unavailablePage(interaction, 'login page');
    unavailablePage(login, 'login form');
    unavailablePage(endSession, 'end-session endpoint');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready' });
    expect(ready.ms).toBeLessThan(FAST_MS);
    // What needs no database keeps answering: liveness, discovery, the published keys.
    expect([health.status, discovery.status, jwks.status]).toEqual([200, 200, 200]);
  }

  /** Once the database is back: ready again by itself, and every flow works. */
  async function expectRecovered(pending: Pending): Promise<void> {
    const restored = Date.now();
    await eventually(async () => (await fetch(`${server.issuer}/readyz`)).status === 200, { what: '/readyz to answer 200', timeoutMs: 15_000 });
    expect(Date.now() - restored).toBeLessThan(FAST_MS);

    const refreshed = await tokenRequest(server.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh });
    expect(refreshed.status).toBe(200);
    tokens = { access: refreshed.body.access_token as string, refresh: refreshed.body.refresh_token as string };
    expect((await introspect(server.issuer, web, tokens.access)).body).toMatchObject({ active: true, client_id: 'web' });
    expect((await userinfo(server.issuer, tokens.access)).body).toMatchObject({ name: ALICE.name });
    // The browser's session survived: a silent sign-in goes straight back to the client.
    const silent = expectRedirect((await startAuthorization(rp, { ua: browser, scope: 'openid', params: { prompt: 'none' } })).landing);
    expect(silent.searchParams.get('code')).toBeTruthy();
    // The sign-in begun before the outage carries on from the page the person was looking at
    // (Alice allowed these scopes for `web` at the first sign-in: no consent page this time).
    const callback = expectRedirect(await pending.ua.submit(pending.page, LOGIN_FORM, alice, RP));
    const signedIn = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    expect(signedIn.claims()?.sub).toBeTypeOf('string');
  }

  it('Postgres stopped (connections reset, new ones refused)', { timeout: 60_000 }, async () => {
    const pending = await pendingLogin();
    const swept = server.count((l) => l.msg === 'expiry sweep failed');
    const reloaded = server.count((l) => l.msg === 'could not reload keys');
    await proxy.down();
    await expectUnavailable(pending);
    // Housekeeping (every second here) meets the outage too: its failures are logged, not fatal.
    await eventually(() => server.count((l) => l.msg === 'expiry sweep failed') > swept && server.count((l) => l.msg === 'could not reload keys') > reloaded, {
      what: 'the expiry sweep and the key refresh to fail',
    });
    await proxy.restore();
    await expectRecovered(pending);
  });

  it('Postgres restarting (every backend terminated, then "starting up" to new connections)', { timeout: 90_000 }, async () => {
    const pending = await pendingLogin();
    const name = new URL(testDb.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    // Ends every backend of the database, at a moment when at least one of them is an idle
    // connection of the server's pool when `whenPoolIdle` (the cache listener's, running only its
    // heartbeat, is no pool connection); true when it ended any.
    const endBackends = async (whenPoolIdle: boolean) => {
      const { rows } = await admin.query<{ ended: string }>(
        `WITH backends AS MATERIALIZED (
           SELECT pid, state = 'idle' AND state_change < clock_timestamp() - interval '100 ms' AND query <> ALL($2) AS idle_in_pool
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid())
         SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS ended FROM backends WHERE $3 OR EXISTS (SELECT 1 FROM backends WHERE idle_in_pool)`,
        [name, LISTENER_STATEMENTS, !whenPoolIdle],
      );
      return Number(rows[0]!.ended) > 0;
    };
    try {
      // The idle connections the server holds are told "terminating connection due to
      // administrator command" (57P01): reported, not fatal. Only an idle one is reported (a
      // busy one fails its statement instead), and the server may take the idle one for its
      // housekeeping in the instant the backends end: then the server reconnects and it is tried
      // again, until a loss is reported.
      await eventually(
        async () => {
          const lostBefore = server.count(event('db.connection_lost'));
          if (!(await endBackends(true))) return false;
          try {
            await eventually(() => server.count(event('db.connection_lost')) > lostBefore, { what: 'the lost connection to be reported', timeoutMs: 3_000 });
            return true;
          } catch {
            return false;
          }
        },
        { what: 'an idle pool connection to end and its loss to be reported', intervalMs: 20, timeoutMs: 60_000 },
      );
      // Then the restart: whatever reconnected meanwhile ends too, and new connections are told
      // "the database system is starting up" until it is over.
      proxy.starting();
      await endBackends(false);
    } finally {
      await admin.end();
    }
    await expectUnavailable(pending);
    await proxy.restore();
    await expectRecovered(pending);
  });

  it('the network drops everything (connections hang)', { timeout: 60_000 }, async () => {
    const pending = await pendingLogin();
    proxy.blackhole();
    // A silently dead connection raises no error: the read cache's listener notices it by its
    // missed heartbeat (within about 1.5 s, README "Caches"), and until then userinfo of a token
    // it had read may still be answered from memory. From then on everything is unavailable.
    await eventually(async () => valueOf((await scrape(server.issuer)).samples, 'gatehouse_cache_active') === 0, {
      what: 'the cache listener to notice the dead connection',
      timeoutMs: 10_000,
    });
    await expectUnavailable(pending);
    await proxy.restore();
    await expectRecovered(pending);
  });

  it('stayed up throughout: housekeeping failures were logged, nothing crashed', async () => {
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    expect(server.count((l) => l.msg === 'expiry sweep failed')).toBeGreaterThan(0);
    expect(server.count((l) => l.msg === 'could not reload keys')).toBeGreaterThan(0);
    // Every failed request was an outage answered 503, never a 500 with a stack in the log.
    expect(server.count(event('db.unavailable'))).toBeGreaterThan(0);
    expect(server.logs().filter((l) => l.event === 'server_error' || l.msg === 'request failed' || (l.level as number) >= 60)).toEqual([]);
    expect(server.output()).not.toMatch(/Unhandled|uncaught/i);
  });
});

/** what the cache's listener runs on its own connection (src/cache/invalidation_listener.ts) */
const LISTENER_STATEMENTS = ['LISTEN gatehouse_cache', 'SELECT pg_backend_pid() AS pid', 'SELECT 1'];

const event = (name: string) => (line: LogLine) => line.event === name;

type Pending = Started & { page: Page };
