import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { SECRETS, testConfig } from '../support/fixtures.js';
import { basicAuth, endpoints, introspect, revoke, tokenRequest, type JsonResponse } from '../support/oauth_requests.js';
import { scrape, valueOf } from '../support/prometheus_text.js';

// Guessing a client secret: failed client authentications at the token, introspection and
// revocation endpoints are counted per client and source address in the database; at
// CLIENT_AUTH_MAX_FAILURES (default 10) that client is refused from that address with 429,
// Retry-After and an OAuth error body, even with the right secret, until the window has passed.
// Other clients, and the same client from other addresses, are not affected.

const POSTER_SECRET = 'poster-secret-0123456789abcdef0123456789';
const service = { clientId: 'service', secret: SECRETS.service };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };
const LOCKED_BODY = { error: 'invalid_client', error_description: 'too many failed client authentication attempts; retry later' };

/** The usual clients plus one that sends its secret in the form body (client_secret_post). */
function configWithPostClient() {
  const base = testConfig();
  return gatehouseConfigSchema.parse({
    clients: [
      ...base.clients,
      {
        client_id: 'poster',
        client_secret: POSTER_SECRET,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['client_credentials'],
        scope: 'things:read',
      },
    ],
    apis: base.apis,
  });
}

/** client_secret_post: client_id and client_secret travel in the form body, no Authorization header. */
async function postWithSecretInBody(url: string, form: Record<string, string>): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const clientCredentials = (issuer: string, client: { clientId: string; secret: string }, scope = 'things:read') =>
  tokenRequest(issuer, client, { grant_type: 'client_credentials', scope });

function expectLocked(res: JsonResponse, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual(LOCKED_BODY);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
}

async function lockoutsOfClients(issuer: string): Promise<number | undefined> {
  return valueOf((await scrape(issuer)).samples, 'gatehouse_lockouts_total', { scope: 'client' });
}

describe('with the default limits (10 failures in 300 s)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ config: configWithPostClient() });
  });
  afterAll(() => gh?.close());

  it('refuses the right secret with 429 after 10 wrong ones, at every endpoint, while other clients go on', async () => {
    const wrong = { clientId: 'service', secret: 'not-the-secret-0123456789abcdef0123' };
    // Failures at any endpoint count alike.
    for (let i = 0; i < 8; i++) {
      const res = await clientCredentials(gh.issuer, wrong);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
    expect((await introspect(gh.issuer, wrong, 'whatever')).status).toBe(401);
    // Below the limit the right secret still works, and does not wipe the count.
    expect((await clientCredentials(gh.issuer, service)).status).toBe(200);
    expect(await lockoutsOfClients(gh.issuer)).toBe(0);
    // The tenth failure is still an ordinary 401; it starts the lockout.
    expect((await revoke(gh.issuer, wrong, 'whatever')).status).toBe(401);
    expect(await lockoutsOfClients(gh.issuer)).toBe(1);
    // Audited: each failure, and the lockout.
    const audited = await gh.testDb.db.query<{ event: string; n: number }>(
      `SELECT event, count(*)::int AS n FROM audit_events WHERE client_id = 'service' GROUP BY event ORDER BY event`,
    );
    expect(audited.rows).toEqual([
      { event: 'client_auth.failure', n: 10 },
      { event: 'client_auth.locked', n: 1 },
    ]);

    expectLocked(await clientCredentials(gh.issuer, service), 300);
    expectLocked(await introspect(gh.issuer, service, 'whatever'), 300);
    expectLocked(await revoke(gh.issuer, service, 'whatever'), 300);
    // Locked attempts are refused unchecked, not counted as more failures.
    expectLocked(await clientCredentials(gh.issuer, wrong), 300);

    const other = await clientCredentials(gh.issuer, introspector, 'notes:read');
    expect(other.status).toBe(200);
    expect(other.body.access_token).toBeTruthy();

    expect(await lockoutsOfClients(gh.issuer)).toBe(1);
    const locked = gh.logs.filter((l) => l.event === 'client_auth.locked');
    expect(locked).toEqual([expect.objectContaining({ client_id: 'service', lockout_seconds: 300 })]);
    expect(gh.logs.filter((l) => l.event === 'client_auth.throttled').length).toBeGreaterThanOrEqual(4);
    expect(gh.rawLogs()).not.toContain(SECRETS.service);
    expect(gh.rawLogs()).not.toContain(wrong.secret);

    // One row for the client and this address (an HMAC), one for the client's failures from anywhere.
    const { rows } = await gh.testDb.db.query<{ key: string }>(`SELECT key FROM login_limits WHERE key LIKE 'client%' ORDER BY key`);
    expect(rows.map((r) => r.key)).toEqual(['client:service', expect.stringMatching(/^client_ip:[\w-]{43}$/)]);
  });

  it('counts and refuses a client that sends its secret in the form body the same way', async () => {
    const { token } = await endpoints(gh.issuer);
    const attempt = (secret: string) =>
      postWithSecretInBody(token, { grant_type: 'client_credentials', scope: 'things:read', client_id: 'poster', client_secret: secret });
    for (let i = 0; i < 10; i++) expect((await attempt(`wrong-${i}-0123456789abcdef0123456789`)).status).toBe(401);
    expectLocked(await attempt(POSTER_SECRET), 300);
  });

  it('does not count client ids that are not registered, nor public clients (no secret to guess)', async () => {
    // A public client sending a secret uses the wrong method: invalid_client, but nothing to lock.
    for (const client of [
      { clientId: 'nobody', secret: 'x'.repeat(40) },
      { clientId: 'spa', secret: 'x'.repeat(40) },
    ]) {
      for (let i = 0; i < 12; i++) {
        const res = await clientCredentials(gh.issuer, client);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
      }
    }
    const { rows } = await gh.testDb.db.query(`SELECT key FROM login_limits WHERE key IN ('client:nobody', 'client:spa')`);
    expect(rows).toHaveLength(0);
  });
});

describe('with CLIENT_AUTH_MAX_FAILURES=2 and CLIENT_AUTH_FAILURE_WINDOW_SECONDS=2', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env: { CLIENT_AUTH_MAX_FAILURES: '2', CLIENT_AUTH_FAILURE_WINDOW_SECONDS: '2' } });
  });
  afterAll(() => gh?.close());

  it('locks at the second failure and lets the right secret in again once the window has passed', async () => {
    const wrong = { clientId: 'service', secret: 'not-the-secret-0123456789abcdef0123' };
    expect((await clientCredentials(gh.issuer, wrong)).status).toBe(401);
    expect((await clientCredentials(gh.issuer, wrong)).status).toBe(401);
    expectLocked(await clientCredentials(gh.issuer, service), 2);
    // Attempts while locked are refused unchecked and do not count: ask until the window ends.
    await eventually(async () => (await clientCredentials(gh.issuer, service)).status === 200, { what: 'the lockout to end', intervalMs: 200 });
  });
});

/**
 * A client_credentials request sent from another loopback address (Linux routes all of
 * 127.0.0.0/8 to lo), so the server sees a different req.ip without any proxy header.
 */
async function clientCredentialsFrom(issuer: string, localAddress: string, client: { clientId: string; secret: string }): Promise<JsonResponse> {
  const url = new URL((await endpoints(issuer)).token);
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basicAuth(client) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
          resolve({ status: res.statusCode!, headers, body: JSON.parse(text) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('one address guessing cannot lock the client out for everyone (issue #10)', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env: { CLIENT_AUTH_MAX_FAILURES: '3', CLIENT_AUTH_FAILURE_WINDOW_SECONDS: '300' } });
  });
  afterAll(() => gh?.close());
  const wrong = { clientId: 'service', secret: 'not-the-secret-0123456789abcdef0123' };

  it('locks the guessing address (the right secret included, unchecked) while the client goes on from its own', async () => {
    const attacker = '127.0.0.2';
    for (let i = 0; i < 3; i++) expect((await clientCredentialsFrom(gh.issuer, attacker, wrong)).status).toBe(401);
    expectLocked(await clientCredentialsFrom(gh.issuer, attacker, wrong), 300);
    // From the guessing address even the right secret is refused: otherwise guessing goes on.
    expectLocked(await clientCredentialsFrom(gh.issuer, attacker, service), 300);

    // The client, from its own address, is not affected.
    const real = await clientCredentialsFrom(gh.issuer, '127.0.0.1', service);
    expect(real.status).toBe(200);
    expect(real.body.access_token).toBeTruthy();
    expect(gh.logs.filter((l) => l.event === 'client_auth.locked')).toEqual([expect.objectContaining({ client_id: 'service', ip: attacker })]);
  });

  it('a guesser spread over many addresses slows the client down but never gets the right secret refused', async () => {
    // 3 failures from each of 10 more addresses: 33 in the window, past 10 x 3.
    for (let host = 3; host <= 12; host++) {
      for (let i = 0; i < 3; i++) expect((await clientCredentialsFrom(gh.issuer, `127.0.0.${host}`, wrong)).status).toBe(401);
    }
    const real = await clientCredentialsFrom(gh.issuer, '127.0.0.1', service);
    expect(real.status).toBe(200);
    expect(real.body.access_token).toBeTruthy();
    expect(gh.logs.filter((l) => l.event === 'client_auth.slowed').length).toBeGreaterThan(0);
    expect(gh.rawLogs()).not.toContain(wrong.secret);
    expect(gh.rawLogs()).not.toContain(SECRETS.service);
  });
});
