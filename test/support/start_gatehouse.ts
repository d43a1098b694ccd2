import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type Provider from 'oidc-provider';
import { loadEnv } from '../../src/config/env.js';
import type { GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { createLogger } from '../../src/core/log.js';
import { buildGatehouse, type Gatehouse } from '../../src/app/build_gatehouse.js';
import { createUsersRepo, type User } from '../../src/accounts/users_repo.js';
import type { NewUser } from '../../src/accounts/user_schema.js';
import { createTestDb, type Backend, type TestDb } from './test_db.js';
import { testConfig } from './fixtures.js';

// A real Gatehouse on an ephemeral port over a fresh database, built the way main.ts builds it.

export interface RunningGatehouse {
  issuer: string;
  server: http.Server;
  gatehouse: Gatehouse;
  /** the provider serving right now (a key rotation or config reload swaps it) */
  readonly provider: Provider;
  testDb: TestDb;
  /** every JSON log line written so far */
  logs: Record<string, unknown>[];
  /** raw log text, to check nothing secret was written */
  rawLogs: () => string;
  createUser(user: NewUser): Promise<User>;
  close(): Promise<void>;
}

export interface StartOptions {
  config?: GatehouseConfig;
  backend?: Backend;
  testDb?: TestDb;
  env?: Record<string, string>;
  /** the issuer's host name (default 127.0.0.1); WebAuthn needs a domain such as `localhost` */
  issuerHost?: string;
}

export async function startGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  const testDb = options.testDb ?? (await createTestDb(options.backend));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${options.issuerHost ?? '127.0.0.1'}:${port}`;

  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const env = loadEnv({ PORT: String(port), ISSUER: issuer, LOG_LEVEL: 'info', DATA_DIR: testDb.dataDir, ...options.env });
  const log = createLogger(env.logLevel, sink);
  const gatehouse = await buildGatehouse({ env, log, config: options.config ?? testConfig(), db: testDb.db });
  server.on('request', gatehouse.app);

  const users = createUsersRepo(testDb.db);
  return {
    issuer,
    server,
    gatehouse,
    get provider() {
      return gatehouse.host.current().provider;
    },
    testDb,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLogs: () => lines.join('\n'),
    createUser: (user) => users.create(user),
    async close() {
      gatehouse.host.stop();
      await gatehouse.caches.close();
      await gatehouse.mailer.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!options.testDb) await testDb.drop();
    },
  };
}
