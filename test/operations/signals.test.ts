import http from 'node:http';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { gatehouseConfigSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { openDb } from '../../src/db/open_db.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createTestDb, type Backend, type TestDb } from '../support/test_db.js';
import { availableBackends } from '../support/storage_backends.js';
import { ALICE, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { basicAuth, tokenRequest } from '../support/oauth_requests.js';
import { parsePrometheus, valueOf } from '../support/prometheus_text.js';
import { processExists, spawnGatehouse, tryConnect, type LogLine, type SpawnedGatehouse } from '../support/spawn_gatehouse.js';

// The server process and its signals (issue 5, points 3, 6 and 7), on `node dist/main.js`:
// SIGTERM/SIGINT stop accepting, let in-flight requests finish, close the database and exit 0;
// SIGHUP re-reads the config file (a bad file is reported and the old config keeps serving);
// WEB_CONCURRENCY workers share the port, the database and one /metrics.

const service = { clientId: 'service', secret: SECRETS.service };
const BATCH_SECRET = 'batch-secret-0123456789abcdef0123456789';
const REPORTS_API = 'https://reports.example.test';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A fresh database the child process opens itself, and a config file beside it. */
async function prepare(backend: Backend, config: GatehouseConfig = testConfig()) {
  const testDb: TestDb = await createTestDb(backend, { open: false });
  cleanups.push(() => testDb.drop());
  const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
  await writeFile(configFile, JSON.stringify(config));
  const env: Record<string, string> = {
    CONFIG_FILE: configFile,
    ...(backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl } : { DATA_DIR: testDb.dataDir }),
  };
  return { testDb, configFile, env };
}

async function spawn(env: Record<string, string>): Promise<SpawnedGatehouse> {
  const server = await spawnGatehouse({ env });
  cleanups.push(() => server.kill());
  return server;
}

const event = (name: string) => (line: LogLine) => line.event === name;
const noErrors = (server: SpawnedGatehouse) => expect(server.logs().filter((l) => (l.level as number) >= 50)).toEqual([]);

describe.each(availableBackends())('signals on %s', (backend) => {
  it('SIGTERM: the request in flight completes, new connections are refused, exit 0', { timeout: 90_000 }, async () => {
    const { env } = await prepare(backend);
    const server = await spawn(env);

    // A token request whose body is still on its way when the signal arrives: with
    // `Expect: 100-continue` the server has taken the request once it answers 100 Continue.
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }).toString();
    const request = http.request({
      host: '127.0.0.1',
      port: server.port,
      method: 'POST',
      path: '/token',
      agent: false,
      headers: {
        authorization: basicAuth(service),
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
        expect: '100-continue',
      },
    });
    const response = once(request, 'response') as Promise<[http.IncomingMessage]>;
    request.flushHeaders();
    await once(request, 'continue');

    server.child.kill('SIGTERM');
    await server.waitForLogs(event('shutdown'), 1, 'the shutdown to start');
    expect(await tryConnect(server.port)).toBe('ECONNREFUSED');
    expect(server.child.exitCode).toBeNull(); // still waiting for our request

    request.end(body);
    const [res] = await response;
    let text = '';
    for await (const chunk of res) text += String(chunk);
    expect(res.statusCode).toBe(200);
    const token = (JSON.parse(text) as { access_token: string }).access_token;
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');

    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.logs().find(event('shutdown'))).toMatchObject({ signal: 'SIGTERM' });
    expect(server.count(event('shutdown.done'))).toBe(1);
    expect(server.count(event('shutdown.timeout'))).toBe(0);
    noErrors(server);
  });

  it(
    'SIGHUP re-reads the config file: clients and APIs added and removed; a bad file is reported and the old config keeps serving; SIGINT exits 0',
    { timeout: 90_000 },
    async () => {
      const { env, configFile } = await prepare(backend);
      const server = await spawn(env);
      const batch = { clientId: 'batch', secret: BATCH_SECRET };
      const introspector = { clientId: 'introspector', secret: SECRETS.introspector };
      const cc = (client: { clientId: string; secret: string }, scope: string) =>
        tokenRequest(server.issuer, client, { grant_type: 'client_credentials', scope });

      expect((await cc(batch, 'reports:read')).body.error).toBe('invalid_client');
      expect((await cc(introspector, 'notes:read')).status).toBe(200);

      // v2: a new API and a new client for it; `introspector` removed.
      const base = testConfig();
      const v2 = gatehouseConfigSchema.parse({
        clients: [
          ...base.clients.filter((c) => c.client_id !== 'introspector'),
          { client_id: 'batch', client_secret: BATCH_SECRET, client_name: 'Batch', grant_types: ['client_credentials'], scope: 'reports:read things:read' },
        ],
        apis: [...base.apis, { identifier: REPORTS_API, name: 'Reports', scopes: ['reports:read'], access_token_format: 'jwt', access_token_ttl: 120 }],
      });
      await writeFile(configFile, JSON.stringify(v2));
      server.child.kill('SIGHUP');
      const [reloaded] = await server.waitForLogs(event('config.reloaded'), 1, 'the config to be reloaded');
      expect(reloaded).toMatchObject({ clients: v2.clients.length, apis: 3 });

      const added = await cc(batch, 'reports:read');
      expect(added.status).toBe(200);
      expect(added.body).toMatchObject({ scope: 'reports:read', expires_in: 120 });
      const claims = JSON.parse(Buffer.from((added.body.access_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ aud: REPORTS_API, client_id: 'batch' });
      expect((await cc(introspector, 'notes:read')).body.error).toBe('invalid_client');

      // Invalid files: one the schema refuses, one oidc-provider's client rules refuse.
      const invalid = [
        {
          content: JSON.stringify({ ...v2, clients: [...v2.clients, { client_id: 'broken', client_secret: 'x'.repeat(32), redirect_uris: ['not-a-url'] }] }),
          problem: /^clients\[\d+\]\.redirect_uris\[0\]: must be an absolute URL$/,
        },
        {
          content: JSON.stringify({
            ...v2,
            clients: [...v2.clients, { client_id: 'broken', client_secret: 'x'.repeat(32), redirect_uris: ['com.example.app:/callback'] }],
          }),
          problem: /^clients\[\d+\]\.redirect_uris\[0\]: a private-use URI scheme \("com\.example\.app:"\) is for native apps/,
        },
        { content: '{ "clients": [', problem: /^\(syntax\): / },
      ];
      for (const [i, { content, problem }] of invalid.entries()) {
        await writeFile(configFile, content);
        server.child.kill('SIGHUP');
        const failures = await server.waitForLogs(event('config.reload_failed'), i + 1, 'the reload to fail');
        const failure = failures[i]!;
        expect(failure.level).toBe(50);
        expect(failure.problems).toEqual([expect.stringMatching(problem)]);
        // Still serving v2.
        expect((await cc(batch, 'reports:read')).status).toBe(200);
        expect((await cc(service, 'things:read')).status).toBe(200);
        expect((await cc({ clientId: 'broken', secret: 'x'.repeat(32) }, 'things:read')).body.error).toBe('invalid_client');
      }
      expect(server.count(event('config.reloaded'))).toBe(1);

      server.child.kill('SIGINT');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.logs().find(event('shutdown'))).toMatchObject({ signal: 'SIGINT' });
      expect(server.count(event('shutdown.done'))).toBe(1);
    },
  );

  it('WEB_CONCURRENCY=2: two workers serve one port, one database and one /metrics; SIGTERM stops them all', { timeout: 90_000 }, async () => {
    const { env, testDb } = await prepare(backend);
    const server = await spawn({ ...env, WEB_CONCURRENCY: '2' });
    const listening = await server.waitForLogs(event('listening'), 2, 'two workers to listen');
    const pids = [...new Set(listening.map((l) => l.pid as number))];
    cleanups.push(async () => {
      for (const pid of pids) if (processExists(pid)) process.kill(pid, 'SIGKILL');
    });
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(server.child.pid);
    expect(server.count((l) => l.event === 'cluster.start' && l.workers === 2)).toBe(1);

    // A user added beside the running cluster (for the embedded database: through the primary's socket).
    const db = await openDb({ databaseUrl: testDb.databaseUrl || undefined, dataDir: testDb.dataDir, poolSize: 2, role: 'cli' });
    try {
      await createUsersRepo(db).create(ALICE);
    } finally {
      await db.close();
    }
    const rp = await discover(server.issuer, 'web', SECRETS.web);
    const { tokens } = await signIn(rp, { credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
    expect(tokens.claims()?.iss).toBe(server.issuer);

    // Grants on separate connections, which the primary deals out to both workers.
    const GRANTS = 6;
    for (let i = 0; i < GRANTS; i++) {
      const res = await rawRequest(server.port, 'POST', '/token', new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }).toString(), {
        authorization: basicAuth(service),
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ token_type: 'Bearer', scope: 'things:read' });
    }
    // Whichever worker answers the scrape, it reports the whole cluster.
    for (let i = 0; i < 2; i++) {
      const scrape = await rawRequest(server.port, 'GET', '/metrics');
      expect(scrape.status).toBe(200);
      const samples = parsePrometheus(scrape.body);
      expect(valueOf(samples, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'service' })).toBe(GRANTS);
      expect(valueOf(samples, 'gatehouse_tokens_issued_total', { grant_type: 'authorization_code', client_id: 'web' })).toBe(1);
      expect(valueOf(samples, 'gatehouse_sign_ins_total', { outcome: 'success' })).toBe(1);
    }

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(processExists(pid)).toBe(false);
    // Each worker and the primary finished cleanly.
    expect(server.count(event('shutdown.done'))).toBe(3);
    expect(server.count((l) => l.event === 'shutdown.done' && l.role === 'primary')).toBe(1);
    expect(server.count(event('worker.exit'))).toBe(0);
    noErrors(server);
  });
});

/** One request on its own connection (so the cluster's primary may hand it to any worker). */
function rawRequest(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { connection: 'close', accept: 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
