import type { RequestHandler } from 'express';
import client from 'prom-client';
import { bearerTokenCheck } from './bearer_token_check.js';
import type { Db } from '../db/db.js';
import { clusterMetricsFetcher } from './cluster_metrics.js';
import { createRequestDurations } from './request_durations.js';
import type { ReadCache } from '../cache/read_cache.js';

// Prometheus metrics (GET /metrics). Route labels come from a fixed table so that ids in
// paths (/interaction/<uid>, /auth/<uid>) never become label values.

const ROUTES: [RegExp, string][] = [
  [/^\/\.well-known\/openid-configuration$/, 'discovery'],
  [/^\/jwks$/, 'jwks'],
  [/^\/auth(\/|$)/, 'authorization'],
  [/^\/token\/introspection$/, 'introspection'],
  [/^\/token\/revocation$/, 'revocation'],
  [/^\/token$/, 'token'],
  [/^\/me$/, 'userinfo'],
  [/^\/session\/end/, 'end_session'],
  [/^\/interaction\/[^/]+\/login$/, 'interaction_login'],
  [/^\/interaction\/[^/]+\/confirm$/, 'interaction_consent'],
  [/^\/interaction\/[^/]+\/abort$/, 'interaction_abort'],
  [/^\/interaction\/[^/]+$/, 'interaction'],
  [/^\/healthz$/, 'healthz'],
  [/^\/readyz$/, 'readyz'],
  [/^\/metrics$/, 'metrics'],
  [/^\/static\//, 'static'],
  [/^\/$/, 'home'],
];

// The paths machines call in volume, looked up before any pattern is tried.
const EXACT_ROUTES = new Map<string, string>([
  ['/.well-known/openid-configuration', 'discovery'],
  ['/jwks', 'jwks'],
  ['/token', 'token'],
  ['/token/introspection', 'introspection'],
  ['/token/revocation', 'revocation'],
  ['/me', 'userinfo'],
]);

export function routeLabel(path: string): string {
  const exact = EXACT_ROUTES.get(path);
  if (exact) return exact;
  for (const [pattern, label] of ROUTES) if (pattern.test(path)) return label;
  return 'other';
}

/** The read cache's hits and misses per kind (cache/read_cache.ts), its size, and whether it serves. */
function registerCacheMetrics(registry: client.Registry, cache: ReadCache): void {
  // Counted by the cache itself, on the hot path; copied here when scraped.
  const counter = (name: string, help: string, field: 'hits' | 'misses') =>
    new client.Counter({
      name,
      help,
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const stats of cache.stats()) this.inc({ kind: stats.kind }, stats[field]);
      },
    });
  counter('gatehouse_cache_hits_total', 'Reads answered from the read cache, by kind', 'hits');
  counter('gatehouse_cache_misses_total', 'Reads that went to the database (not cached, expired, or the cache bypassed), by kind', 'misses');
  new client.Gauge({
    name: 'gatehouse_cache_bytes',
    help: 'Bytes counted against CACHE_MAX_MB by the read cache',
    registers: [registry],
    collect() {
      this.set(cache.size().bytes);
    },
  });
  new client.Gauge({
    name: 'gatehouse_cache_active',
    help: '1 while the read cache serves (its invalidation listener is connected), else 0',
    registers: [registry],
    collect() {
      this.set(cache.active ? 1 : 0);
    },
  });
}

export interface Metrics {
  registry: client.Registry;
  /** times every request by route, method and status */
  middleware: RequestHandler;
  /** `throttled`: refused unchecked while the account or the IP is locked out */
  signIn(outcome: 'success' | 'failure' | 'disabled' | 'throttled'): void;
  /** a brute-force lockout started (login_throttle.ts: account, ip; client_auth_throttle.ts: client) */
  lockout(scope: 'account' | 'ip' | 'client'): void;
  /** a token endpoint response (oidc-provider's grant.success; wired in provider/install_extensions.ts) */
  tokenIssued(grantType: string, clientId: string): void;
  /** a back-channel logout delivery (oidc-provider's backchannel.success and .error) */
  backchannelDelivery(outcome: 'success' | 'failure'): void;
}

export function createMetrics(db: Db, cache?: ReadCache): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  // Route, method and status labels; kept by hand (request_durations.ts), as it is on every request.
  const durations = createRequestDurations(registry, {
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const tokens = new client.Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Successful token endpoint responses by grant type and client',
    labelNames: ['grant_type', 'client_id'] as const,
    registers: [registry],
  });
  const signIns = new client.Counter({
    name: 'gatehouse_sign_ins_total',
    help: 'Password sign-in attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const lockouts = new client.Counter({
    name: 'gatehouse_lockouts_total',
    help: 'Lockouts started after too many failed attempts: sign-ins per account or per client IP, client authentications per client',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const backchannel = new client.Counter({
    name: 'gatehouse_backchannel_logout_deliveries_total',
    help: 'Back-channel logout deliveries by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'gatehouse_db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, db.pool.totalCount);
      this.set({ state: 'idle' }, db.pool.idleCount);
      this.set({ state: 'waiting' }, db.pool.waitingCount);
    },
  });
  if (cache) registerCacheMetrics(registry, cache);
  for (const outcome of ['success', 'failure', 'disabled', 'throttled']) signIns.inc({ outcome }, 0);
  for (const scope of ['account', 'ip', 'client']) lockouts.inc({ scope }, 0);
  for (const outcome of ['success', 'failure']) backchannel.inc({ outcome }, 0);

  return {
    registry,
    middleware: (req, res, next) => {
      const start = performance.now();
      res.once('finish', () => {
        durations.observe(routeLabel(req.path), req.method, res.statusCode, (performance.now() - start) / 1000);
      });
      next();
    },
    signIn: (outcome) => {
      signIns.inc({ outcome });
    },
    lockout: (scope) => {
      lockouts.inc({ scope });
    },
    tokenIssued: (grantType, clientId) => {
      tokens.inc({ grant_type: grantType, client_id: clientId });
    },
    backchannelDelivery: (outcome) => {
      backchannel.inc({ outcome });
    },
  };
}

export function metricsEndpoint(metrics: Metrics, token?: string): RequestHandler {
  const fromCluster = clusterMetricsFetcher(metrics.registry);
  const authorized = token ? bearerTokenCheck(token) : () => true;
  return async (req, res) => {
    res.set('cache-control', 'no-store');
    if (!authorized(req.get('authorization'))) {
      res.status(401).set('www-authenticate', 'Bearer realm="metrics"').type('text').send('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    try {
      const text = fromCluster ? await fromCluster() : await metrics.registry.metrics();
      res.type(metrics.registry.contentType).send(text);
    } catch (error) {
      res
        .status(503)
        .type('text')
        .send(`metrics unavailable: ${(error as Error).message}\n`);
    }
  };
}
