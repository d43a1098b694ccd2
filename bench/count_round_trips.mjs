// Database round trips per request, per scenario: Gatehouse built in this process over a fresh
// Postgres database whose pg Pool counts every statement it sends. Each scenario's request is
// sent `N` times, `C` at a time (default 1: one after another); the table shows statements per
// request, by statement. With C > 1 the requests served in one turn of the event loop share
// their reads and writes (src/db/per_turn_batch.ts), as under load.
// The interactive sign-in (authorize → login → code → token, a first-party client: no consent
// page) is also shown per step: statements per sign-in by the request that sent them.
//   npm run build && node bench/count_round_trips.mjs [N=200] [C=1]

import os from 'node:os';
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadEnv } from '../dist/config/env.js';
import { gatehouseConfigSchema } from '../dist/config/gatehouse_config.js';
import { createLogger } from '../dist/core/log.js';
import { openDb } from '../dist/db/open_db.js';
import { buildGatehouse } from '../dist/app/build_gatehouse.js';
import { createUsersRepo } from '../dist/accounts/users_repo.js';
import { benchConfig, benchUser, SECRETS } from './bench_config.mjs';
import { createFreshDatabase } from './database.mjs';
import { freePort } from './servers.mjs';
import { basic, request } from './browser.mjs';
import { firstPartyAuth, signIn, tokenRequest } from './flows.mjs';
import { REFRESH_SCOPE } from './tokens.mjs';

const N = Number(process.argv[2] ?? 200);
const C = Number(process.argv[3] ?? 1);
const counts = new Map();
// Which request sent each statement (its method and path, ids left out), for the sign-in's
// statements per step.
const requestOf = new AsyncLocalStorage();
const byRequest = new Map();
let counting = false;
const label = (q) => {
  const text = typeof q === 'string' ? q : (q.name ?? q.text);
  return text.replace(/\s+/g, ' ').slice(0, 70);
};
const count = (q) => {
  if (!counting) return;
  counts.set(label(q), (counts.get(label(q)) ?? 0) + 1);
  const step = requestOf.getStore() ?? '(outside a request)';
  byRequest.set(step, (byRequest.get(step) ?? 0) + 1);
};
const stepOf = (req) => `${req.method} ${req.url.split('?')[0].replace(/^\/(interaction|auth)\/[^/]+/, '/$1/:uid')}`;

const database = await createFreshDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-rt-'));
const db = await openDb({ databaseUrl: database.url, dataDir: tmp, poolSize: 10, role: 'server' });
// pg-pool's own query() checks a client out and calls client.query(): counting on the clients
// sees every statement, whether sent through db.query() or inside db.transaction().
db.pool.on('connect', (client) => {
  const clientQuery = client.query.bind(client);
  client.query = (q, ...rest) => (count(q), clientQuery(q, ...rest));
});

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const env = loadEnv({ PORT: String(port), ISSUER: url, DATABASE_URL: database.url, LOG_LEVEL: 'warn', DATA_DIR: tmp });
const { app } = await buildGatehouse({ env, log: createLogger('warn'), config: gatehouseConfigSchema.parse(benchConfig), db });
const server = http.createServer((req, res) => requestOf.run(stepOf(req), () => app(req, res))).listen(port, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));

try {
  // A user per lane: concurrent sign-ins of one account would meet its sign-in throttle.
  const users = Array.from({ length: C }, (_, lane) => benchUser(lane));
  for (const user of users) await createUsersRepo(db).create(user);
  const credentials = (lane = 0) => ({ login: users[lane].username, password: users[lane].password });
  const service = basic('service', SECRETS.service);
  const introspector = basic('introspector', SECRETS.introspector);
  // One refresh token per lane: each lane rotates its own.
  const refreshTokens = [];
  for (let lane = 0; lane < C; lane++)
    refreshTokens.push((await signIn(url, { scope: REFRESH_SCOPE, prompt: 'consent', credentials: credentials() })).refresh_token);
  const userinfoToken = (await signIn(url, { scope: 'openid profile email', credentials: credentials() })).access_token;
  const opaque = (await tokenRequest(url, service, { grant_type: 'client_credentials', scope: 'notes:read' })).access_token;

  const scenarios = {
    'client_credentials (RS256)': () => tokenRequest(url, service, { grant_type: 'client_credentials', scope: 'rs:read' }),
    'refresh_token grant': async (lane) => {
      refreshTokens[lane] = (await tokenRequest(url, firstPartyAuth, { grant_type: 'refresh_token', refresh_token: refreshTokens[lane] })).refresh_token;
    },
    introspection: () => tokenRequest(url, introspector, { token: opaque }, '/token/introspection'),
    userinfo: async () => {
      const res = await request(`${url}/me`, { headers: { authorization: `Bearer ${userinfoToken}` } });
      if (res.status !== 200) throw new Error(`userinfo ${res.status}`);
    },
    discovery: () => request(`${url}/.well-known/openid-configuration`),
    jwks: () => request(`${url}/jwks`),
    'interactive sign-in (all requests)': (lane) => signIn(url, { scope: 'openid profile email', credentials: credentials(lane) }),
  };
  for (const [name, once] of Object.entries(scenarios)) {
    const n = name.startsWith('interactive') ? Math.min(N, 20) : N;
    await once(0);
    counts.clear();
    byRequest.clear();
    counting = true;
    let sent = 0;
    await Promise.all(
      Array.from({ length: Math.min(C, n) }, async (_, lane) => {
        while (sent < n) {
          sent++;
          await once(lane);
        }
      }),
    );
    counting = false;
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(`\n${name}: ${(total / n).toFixed(2)} statements per request\n`);
    for (const [q, c] of [...counts].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${(c / n).toFixed(2)}  ${q}\n`);
    if (name.startsWith('interactive')) {
      // The flow's requests in the order they were made (a Map keeps insertion order).
      process.stdout.write(`  by request (statements per sign-in):\n`);
      for (const [step, c] of byRequest) process.stdout.write(`    ${(c / n).toFixed(2)}  ${step}\n`);
    }
  }
} finally {
  server.close();
  server.closeAllConnections();
  await db.close();
  await database.drop();
  rmSync(tmp, { recursive: true, force: true });
}
