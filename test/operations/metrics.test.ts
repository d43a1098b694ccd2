import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { isPage, type Page, type UserAgent } from '../support/user_agent.js';
import { expectPage, expectRedirect, LOGIN_FORM, startAuthorization, type Landing } from '../support/hosted_pages.js';
import { tokenRequest } from '../support/oauth_requests.js';
import { scrape, samplesOf, valueOf } from '../support/prometheus_text.js';
import { serverBackends } from '../support/storage_backends.js';
import { createTestDb, type TestDb } from '../support/test_db.js';

// Health and metrics (issue 5, point 2): /healthz, /readyz, and /metrics in the Prometheus text
// format with request durations by route, tokens issued by grant type and client, sign-ins by
// outcome, back-channel deliveries by outcome, database pool gauges and process metrics.

const BCL_SECRET = 'bcl-secret-0123456789abcdef0123456789ab';
const alice = { login: ALICE.username, password: ALICE.password };

let receiver: http.Server;
const received: string[] = [];
let gh: RunningGatehouse;

beforeAll(async () => {
  // A back-channel logout receiver: /ok accepts, /broken answers 500.
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.url ?? '');
      res.writeHead(req.url === '/ok' ? 200 : 500).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const base = testConfig();
  const bclClient = (clientId: string, path: string) => ({
    client_id: clientId,
    client_secret: BCL_SECRET,
    client_name: clientId,
    redirect_uris: [`${RP}/${clientId}/callback`],
    post_logout_redirect_uris: [`${RP}/${clientId}/signed-out`],
    grant_types: ['authorization_code'],
    scope: 'openid profile',
    skip_consent: true,
    backchannel_logout_uri: `${receiverUrl}${path}`,
  });
  const config = gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, bclClient('bcl-ok', '/ok'), bclClient('bcl-broken', '/broken')] });
  gh = await startGatehouse({ config });
  await gh.createUser(ALICE);
});
afterAll(async () => {
  await gh?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

async function logOut(ua: UserAgent, config: oidc.Configuration, idToken: string, postLogout: string): Promise<URL> {
  const url = oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout });
  let landing: Landing = await ua.follow(url.href, {}, RP);
  if (isPage(landing)) {
    const page: Page = landing;
    const button = page.$('form button[type="submit"]').first();
    landing = await ua.submit(page, 'form[method="post"]', {}, RP, { name: button.attr('name')!, value: button.attr('value')! });
  }
  return expectRedirect(landing);
}

describe('GET /metrics', () => {
  let interactionUid: string;

  it('counts sign-ins by outcome, tokens by grant type and client, and times requests by route', async () => {
    const web = await discover(gh.issuer, 'web', SECRETS.web);

    // A failed sign-in: wrong password on the hosted login page.
    const { ua, landing } = await startAuthorization(web);
    const loginPage = expectPage(landing);
    interactionUid = new URL(loginPage.url).pathname.split('/')[2]!;
    expect(interactionUid).toMatch(/^[\w-]{10,}$/);
    const refused = await ua.submit(loginPage, LOGIN_FORM, { login: ALICE.username, password: 'not the password' }, RP);
    expect(expectPage(refused).status).toBe(401);

    // A successful sign-in with consent and the code exchange; and one client_credentials grant.
    const { tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    expect(tokens.id_token).toBeTypeOf('string');
    const cc = await tokenRequest(gh.issuer, { clientId: 'service', secret: SECRETS.service }, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(cc.status).toBe(200);

    const { status, contentType, samples } = await scrape(gh.issuer);
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);

    expect(valueOf(samples, 'gatehouse_sign_ins_total', { outcome: 'failure' })).toBe(1);
    expect(valueOf(samples, 'gatehouse_sign_ins_total', { outcome: 'success' })).toBe(1);
    expect(valueOf(samples, 'gatehouse_sign_ins_total', { outcome: 'disabled' })).toBe(0);
    // One wrong password locks nothing out; the series exist from the start (rates need a zero).
    expect(valueOf(samples, 'gatehouse_lockouts_total', { scope: 'account' })).toBe(0);
    expect(valueOf(samples, 'gatehouse_lockouts_total', { scope: 'ip' })).toBe(0);
    expect(valueOf(samples, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'service' })).toBe(1);
    expect(valueOf(samples, 'gatehouse_tokens_issued_total', { grant_type: 'authorization_code', client_id: 'web' })).toBe(1);
    expect(samplesOf(samples, 'gatehouse_tokens_issued_total').reduce((sum, s) => sum + s.value, 0)).toBe(2);

    // Two token requests (the code exchange and client_credentials), both 200.
    const tokenBuckets = samplesOf(samples, 'gatehouse_http_request_duration_seconds_bucket', { route: 'token', method: 'POST', status: '200' });
    expect(tokenBuckets.length).toBeGreaterThan(1);
    expect(tokenBuckets.find((s) => s.labels.le === '+Inf')?.value).toBe(2);
    expect(valueOf(samples, 'gatehouse_http_request_duration_seconds_count', { route: 'token', method: 'POST', status: '200' })).toBe(2);
    expect(valueOf(samples, 'gatehouse_http_request_duration_seconds_sum', { route: 'token', method: 'POST', status: '200' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'gatehouse_http_request_duration_seconds_count', { route: 'interaction_login', method: 'POST', status: '401' })).toBe(1);
    for (const route of ['discovery', 'authorization', 'interaction', 'interaction_login', 'interaction_consent', 'token']) {
      expect(samplesOf(samples, 'gatehouse_http_request_duration_seconds_count', { route }).length, route).toBeGreaterThan(0);
    }
  });

  it('never uses an id from a path as a label: routes come from a fixed table', async () => {
    const { text, samples } = await scrape(gh.issuer);
    expect(text).not.toContain(interactionUid);
    const routes = new Set(samplesOf(samples, 'gatehouse_http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const route of routes) expect(route).toMatch(/^[a-z_]+$/);
    // Unknown paths all share one label.
    expect((await fetch(`${gh.issuer}/no/such/${'x'.repeat(24)}`)).status).toBe(404);
    const after = await scrape(gh.issuer);
    expect(after.text).not.toContain('x'.repeat(24));
    expect(valueOf(after.samples, 'gatehouse_http_request_duration_seconds_count', { route: 'other', method: 'GET', status: '404' })).toBe(1);
  });

  it('counts back-channel logout deliveries by outcome', async () => {
    const before = await scrape(gh.issuer);
    expect(valueOf(before.samples, 'gatehouse_backchannel_logout_deliveries_total', { outcome: 'success' })).toBe(0);
    expect(valueOf(before.samples, 'gatehouse_backchannel_logout_deliveries_total', { outcome: 'failure' })).toBe(0);

    // One session signed in to both clients; signing out notifies both: one receiver accepts, one fails.
    const ok = await discover(gh.issuer, 'bcl-ok', BCL_SECRET);
    const broken = await discover(gh.issuer, 'bcl-broken', BCL_SECRET);
    const first = await signIn(ok, { redirectUri: `${RP}/bcl-ok/callback`, scope: 'openid', credentials: alice });
    const second = await signIn(broken, { ua: first.ua, redirectUri: `${RP}/bcl-broken/callback`, scope: 'openid' });
    expect(second.seen.login).toBe(0);
    received.length = 0;
    await logOut(first.ua, ok, first.tokens.id_token!, `${RP}/bcl-ok/signed-out`);
    expect(received.sort()).toEqual(['/broken', '/ok']);

    const after = await scrape(gh.issuer);
    expect(valueOf(after.samples, 'gatehouse_backchannel_logout_deliveries_total', { outcome: 'success' })).toBe(1);
    expect(valueOf(after.samples, 'gatehouse_backchannel_logout_deliveries_total', { outcome: 'failure' })).toBe(1);
    expect(valueOf(after.samples, 'gatehouse_sign_ins_total', { outcome: 'success' })).toBe(2);
    expect(valueOf(after.samples, 'gatehouse_tokens_issued_total', { grant_type: 'authorization_code', client_id: 'bcl-ok' })).toBe(1);
  });

  it('reports database pool gauges and process metrics', async () => {
    const { samples } = await scrape(gh.issuer);
    const total = valueOf(samples, 'gatehouse_db_pool_connections', { state: 'total' });
    const idle = valueOf(samples, 'gatehouse_db_pool_connections', { state: 'idle' });
    expect(total).toBeGreaterThanOrEqual(1);
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle!).toBeLessThanOrEqual(total!);
    expect(valueOf(samples, 'gatehouse_db_pool_connections', { state: 'waiting' })).toBe(0);
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samplesOf(samples, 'nodejs_eventloop_lag_seconds').length).toBe(1);
  });
});

describe('health', () => {
  it('/healthz answers 200 while the process is alive, and is not cached', async () => {
    const res = await fetch(`${gh.issuer}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the database answers and every migration is applied', async () => {
    const res = await fetch(`${gh.issuer}/readyz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('/readyz answers 503 while a migration is missing, and 200 again once it is applied', async () => {
    const db = gh.testDb.db;
    const { rows } = await db.query<{ version: string; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1');
    const latest = rows[0]!;
    await db.query('DELETE FROM schema_migrations WHERE version = $1', [latest.version]);
    try {
      expect((await fetch(`${gh.issuer}/readyz`)).status).toBe(503);
      expect((await fetch(`${gh.issuer}/healthz`)).status).toBe(200);
    } finally {
      await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [latest.version, latest.name]);
    }
    expect((await fetch(`${gh.issuer}/readyz`)).status).toBe(200);
  });
});

describe.each(serverBackends())('/readyz on %s when the database goes away', (backend) => {
  let testDb: TestDb;
  let lost: RunningGatehouse;
  beforeAll(async () => {
    testDb = await createTestDb(backend);
    lost = await startGatehouse({ testDb });
  });
  afterAll(async () => {
    await lost?.close();
    await testDb?.drop();
  });

  it('answers 503 once the database is dropped, while /healthz stays 200', async () => {
    expect((await fetch(`${lost.issuer}/readyz`)).status).toBe(200);
    const name = new URL(testDb.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    const res = await fetch(`${lost.issuer}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready' });
    expect((await fetch(`${lost.issuer}/healthz`)).status).toBe(200);
  });
});
