import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { introspect, revoke, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { revokeKey } from '../../src/keys/key_store.js';
import { scrape, valueOf } from '../support/prometheus_text.js';

// Two instances on one database, each with its own read cache (README "Caches"). What one of them
// changes, the other must stop serving: a revoked, consumed or grant-revoked token, an ended
// session, a changed or disabled user, a revoked key. Each case: B answers from its cache first
// (its hit count grows, on PostgreSQL), A changes, B refuses within the propagation bound and
// never answers the old way again. A itself refuses at once (its own writes drop its entries).
// On embedded PGlite (its socket carries no notifications) and behind a transaction pooler with
// no DATABASE_LISTEN_URL there is no cache: the same answers, every read from the database.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };
/** Generous: the bound is 100 ms at p99 (bench/revocation_propagation.mjs measures it); this only catches "never". */
const PROPAGATION_LIMIT_MS = 3_000;
/** Requests after the first refusal that must all be refusals too. */
const AFTERWARDS = 30;

let a: RunningGatehouse;
let b: RunningGatehouse;
let rp: oidcClient.Configuration;
let aliceSub: string;
let cached: boolean;

beforeAll(async () => {
  a = await startGatehouse();
  b = await startGatehouse({ testDb: a.testDb });
  b.gatehouse.followKeyChanges();
  aliceSub = (await a.createUser(ALICE)).sub;
  rp = await discover(a.issuer, 'web', SECRETS.web);
  cached = a.gatehouse.caches.disabledBecause === null;
  if (cached) await eventually(() => a.gatehouse.caches.read.active && b.gatehouse.caches.read.active, { what: 'both listeners to connect' });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const tokenHits = (gh: RunningGatehouse) => gh.gatehouse.caches.read.stats().find((s) => s.kind === 'token')!.hits;

it('has a cache exactly where a listener can connect', () => {
  const direct = a.testDb.backend === 'postgres' && !new URL(a.testDb.databaseUrl).searchParams.has('pool_mode');
  expect(cached).toBe(direct);
  expect(b.gatehouse.caches.disabledBecause === null).toBe(direct);
});

/** Asks B until `refused` says so (at most PROPAGATION_LIMIT_MS), then AFTERWARDS more times: all refused. */
async function refusedAtBFromNowOn(ask: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await ask())) {
    expect(Date.now() - start, 'B still answers the old way').toBeLessThan(PROPAGATION_LIMIT_MS);
  }
  const took = Date.now() - start;
  for (let i = 0; i < AFTERWARDS; i++) expect(await ask(), `request ${i + 1} after the first refusal`).toBe(true);
  return took;
}

/** Presents it at B a few times: on PostgreSQL the later ones are cache hits. */
async function warmAtB(ask: () => Promise<boolean>): Promise<void> {
  const before = tokenHits(b);
  for (let i = 0; i < 3; i++) expect(await ask()).toBe(false);
  if (cached) expect(tokenHits(b)).toBeGreaterThan(before);
  else expect(tokenHits(b)).toBe(before);
}

const signInWeb = async () => (await signIn(rp, { scope: 'openid profile email', credentials: alice, consent: 'allow' })).tokens;
const signInOffline = async () =>
  (await signIn(rp, { scope: 'openid profile email offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' })).tokens;
const inactiveAt = (gh: RunningGatehouse, token: string) => async () => {
  const res = await introspect(gh.issuer, web, token);
  expect(res.status).toBe(200);
  return res.body.active === false;
};
const userinfoRefusedAt = (gh: RunningGatehouse, token: string) => async () => {
  const res = await userinfo(gh.issuer, token);
  expect([200, 401]).toContain(res.status);
  return res.status === 401;
};

describe('revocation at A', () => {
  it('introspection at B says inactive from then on; A says so at once', async () => {
    const { access_token } = await signInWeb();
    await warmAtB(inactiveAt(b, access_token));
    expect(await inactiveAt(a, access_token)()).toBe(false);
    expect((await revoke(a.issuer, web, access_token)).status).toBe(200);
    expect(await inactiveAt(a, access_token)()).toBe(true);
    await refusedAtBFromNowOn(inactiveAt(b, access_token));
  });

  it('userinfo at B refuses from then on', async () => {
    const { access_token } = await signInWeb();
    await warmAtB(userinfoRefusedAt(b, access_token));
    expect((await revoke(a.issuer, web, access_token)).status).toBe(200);
    await refusedAtBFromNowOn(userinfoRefusedAt(b, access_token));
  });

  it('of the refresh token revokes the grant: its access token is refused at B', async () => {
    const tokens = await signInOffline();
    await warmAtB(userinfoRefusedAt(b, tokens.access_token));
    expect((await revoke(a.issuer, web, tokens.refresh_token!)).status).toBe(200);
    await refusedAtBFromNowOn(userinfoRefusedAt(b, tokens.access_token));
  });
});

describe('consumption at A', () => {
  it('a rotated refresh token is inactive at B, and its reuse at B revokes the grant for A too', async () => {
    const first = await signInOffline();
    await warmAtB(inactiveAt(b, first.refresh_token!));
    const rotated = await tokenRequest(a.issuer, web, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(rotated.status).toBe(200);
    await refusedAtBFromNowOn(inactiveAt(b, first.refresh_token!));

    // A caches the new access token, then the old refresh token is replayed at B.
    const newAccess = rotated.body.access_token as string;
    for (let i = 0; i < 3; i++) expect(await inactiveAt(a, newAccess)()).toBe(false);
    const replay = await tokenRequest(b.issuer, web, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    await eventually(async () => (await inactiveAt(a, newAccess)()) || undefined, { timeoutMs: PROPAGATION_LIMIT_MS, what: 'the grant revocation at A' });
    for (let i = 0; i < AFTERWARDS; i++) expect(await inactiveAt(a, newAccess)()).toBe(true);
  });
});

describe('a change of the session or the user', () => {
  it('an ended session ends the tokens that expire with it at B', async () => {
    const { access_token } = await signInWeb();
    await warmAtB(userinfoRefusedAt(b, access_token));
    // As `gatehouse sessions end` or the /account page does it: rows deleted, no adapter call.
    await a.testDb.db.query(`DELETE FROM oidc_models WHERE model = 'Session' AND account_id = $1`, [aliceSub]);
    await refusedAtBFromNowOn(userinfoRefusedAt(b, access_token));
  });

  it('userinfo at B shows changed claims, then refuses a disabled user', async () => {
    const { access_token } = await signInWeb();
    const nameAtB = async () => (await userinfo(b.issuer, access_token)).body.name as string;
    expect(await nameAtB()).toBe(ALICE.name);
    expect(await nameAtB()).toBe(ALICE.name);
    // Written as another process would (this test's instances share one Db, and a users
    // repository's writes are also told to the caches of the process that makes them).
    const setUser = (sql: string) => a.testDb.db.query(`UPDATE users SET ${sql}, updated_at = now() WHERE sub = $1`, [aliceSub]);
    await setUser(`name = 'Alice Renamed'`);
    await refusedAtBFromNowOn(async () => (await nameAtB()) === 'Alice Renamed');

    await setUser('disabled = true');
    try {
      await refusedAtBFromNowOn(userinfoRefusedAt(b, access_token));
    } finally {
      await setUser(`disabled = false, name = '${ALICE.name}'`);
    }
  });
});

describe('a key revoked elsewhere', () => {
  it('leaves B’s JWKS long before the periodic key refresh', async () => {
    const jwks = async (gh: RunningGatehouse) => ((await (await fetch(`${gh.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const [kid] = await jwks(b);
    expect(kid).toBeTypeOf('string');
    // Revoked as `gatehouse keys revoke` does, by another process (KEY_REFRESH_SECONDS is 30 and
    // the tests start no periodic refresh at all).
    await revokeKey(a.testDb.db, kid!);
    if (!cached) return; // no listener: the periodic refresh (not running here) is what reloads
    await eventually(async () => !(await jwks(b)).includes(kid!), { timeoutMs: PROPAGATION_LIMIT_MS, what: 'B to drop the revoked key' });
  });
});

describe('/metrics', () => {
  it('reports the token cache’s hits and misses as B counted them, its size, and whether it serves', async () => {
    const { samples } = await scrape(b.issuer);
    const [stats] = b.gatehouse.caches.read.stats();
    expect(valueOf(samples, 'gatehouse_cache_hits_total', { kind: 'token' })).toBe(stats!.hits);
    expect(valueOf(samples, 'gatehouse_cache_misses_total', { kind: 'token' })).toBe(stats!.misses);
    expect(valueOf(samples, 'gatehouse_cache_active')).toBe(cached ? 1 : 0);
    if (cached) expect(stats!.hits).toBeGreaterThan(0);
    expect(valueOf(samples, 'gatehouse_cache_bytes')).toBeGreaterThanOrEqual(0);
  });
});

describe('the listener connection lost', () => {
  it('B empties and bypasses its cache, misses nothing announced meanwhile, and comes back', async () => {
    const { access_token } = await signInWeb();
    if (!cached) {
      // Nothing to lose: no listener, every read from the database.
      expect(b.gatehouse.caches.listener).toBeNull();
      await warmAtB(inactiveAt(b, access_token));
      expect((await revoke(a.issuer, web, access_token)).status).toBe(200);
      expect(await inactiveAt(b, access_token)()).toBe(true);
      return;
    }
    await warmAtB(inactiveAt(b, access_token));
    const listener = b.gatehouse.caches.listener!;
    const pid = listener.backendPid!;
    const admin = new pg.Client({ connectionString: new URL(a.testDb.databaseUrl).toString() });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
    await eventually(() => !listener.connected || listener.backendPid !== pid, { what: 'B to notice' });
    // Announced while B may not be listening: B must not keep what it had.
    expect((await revoke(a.issuer, web, access_token)).status).toBe(200);
    await eventually(() => listener.connected && listener.backendPid !== pid, { what: 'B to listen again' });
    expect(await inactiveAt(b, access_token)()).toBe(true);
    expect(b.logs.some((l) => l.event === 'cache.listener_down')).toBe(true);

    // In use again: a new token is served from the cache, and revoked as before.
    const next = await signInWeb();
    await warmAtB(inactiveAt(b, next.access_token));
    expect((await revoke(a.issuer, web, next.access_token)).status).toBe(200);
    await refusedAtBFromNowOn(inactiveAt(b, next.access_token));
  });
});
