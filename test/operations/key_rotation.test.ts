import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type * as oidcClient from 'openid-client';
import { deriveKeyStates, nextActivation, type Retention, type TimedKey } from '../../src/keys/key_states.js';
import { listKeys, loadKeys, pruneExpiredKeys, rotateIfDue, rotateKeys, type ListedKey } from '../../src/keys/key_store.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, API, SECRETS } from '../support/fixtures.js';
import { authorize, discover, signIn } from '../support/relying_party.js';
import { endpoints, tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';

// Key rotation without downtime (issue 5, point 5): a new key is published in the JWKS first,
// signs only after the propagation delay, and the key it replaces stays published until
// everything it signed has expired. An RP that cached the JWKS at any moment of this never
// meets a token whose kid it does not know.

const web = { clientId: 'web', secret: SECRETS.web };
const service = { clientId: 'service', secret: SECRETS.service };
const alice = { login: ALICE.username, password: ALICE.password };

// ---------------------------------------------------------------------------------------------
// The state machine alone.

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const key = (kid: string, activatesAfter: number, kind: TimedKey['kind'] = 'signing', alg: string | null = 'RS256'): TimedKey => ({
  kid,
  kind,
  alg: kind === 'cookie' ? null : alg,
  activates_at: at(activatesAfter),
});
const RETENTION: Retention = { signingSeconds: 100, cookieSeconds: 1000 };

function states(keys: TimedKey[], nowSeconds: number, retention = RETENTION) {
  return Object.fromEntries(
    deriveKeyStates(keys, at(nowSeconds), retention).map((k) => [k.key.kid, { state: k.state, retiredAt: k.retiredAt?.toISOString() ?? null }]),
  );
}

describe('deriveKeyStates', () => {
  it('the only key that has activated is active', () => {
    expect(states([key('a', 0)], 10)).toEqual({ a: { state: 'active', retiredAt: null } });
  });

  it('a key whose activation is still ahead is next, and the current key stays active', () => {
    expect(states([key('a', 0), key('b', 60)], 30)).toEqual({
      a: { state: 'active', retiredAt: null },
      b: { state: 'next', retiredAt: null },
    });
  });

  it('once the next key activates it is active, and the one before is retired from that moment', () => {
    expect(states([key('a', 0), key('b', 60)], 60)).toEqual({
      a: { state: 'retired', retiredAt: at(60).toISOString() },
      b: { state: 'active', retiredAt: null },
    });
  });

  it('each retired key is retired when its own successor activated, not the newest one', () => {
    expect(states([key('a', 0), key('b', 60), key('c', 120)], 130)).toEqual({
      a: { state: 'retired', retiredAt: at(60).toISOString() },
      b: { state: 'retired', retiredAt: at(120).toISOString() },
      c: { state: 'active', retiredAt: null },
    });
  });

  it('a retired key expires once it has been retired for longer than the retention, not at it', () => {
    const keys = [key('a', 0), key('b', 60)];
    expect(states(keys, 160).a!.state).toBe('retired'); // exactly 100 s after retirement
    expect(states(keys, 161).a!.state).toBe('expired');
    expect(states(keys, 161).b!.state).toBe('active');
  });

  it('kinds and algs are separate lines of succession, each with its own retention', () => {
    const keys = [key('rs1', 0), key('rs2', 60), key('es1', 0, 'signing', 'ES256'), key('c1', 0, 'cookie'), key('c2', 60, 'cookie')];
    expect(states(keys, 200)).toEqual({
      rs1: { state: 'expired', retiredAt: at(60).toISOString() },
      rs2: { state: 'active', retiredAt: null },
      es1: { state: 'active', retiredAt: null }, // no newer ES256 key: still signs
      c1: { state: 'retired', retiredAt: at(60).toISOString() }, // cookie keys are kept 1000 s here
      c2: { state: 'active', retiredAt: null },
    });
  });

  it('two pending keys are both next; the earlier becomes active first', () => {
    const keys = [key('a', 0), key('b', 60), key('c', 120)];
    expect(states(keys, 30)).toMatchObject({ a: { state: 'active' }, b: { state: 'next' }, c: { state: 'next' } });
    expect(states(keys, 90)).toMatchObject({ a: { state: 'retired' }, b: { state: 'active' }, c: { state: 'next' } });
  });

  it('nextActivation is the earliest activation still ahead, or null', () => {
    const keys = [key('a', 0), key('b', 60), key('c', 120)];
    expect(nextActivation(keys, at(30))).toEqual(at(60));
    expect(nextActivation(keys, at(60))).toEqual(at(120));
    expect(nextActivation(keys, at(120))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// A running Gatehouse through a rotation.

interface Jwk {
  kid: string;
  alg: string;
  [member: string]: unknown;
}

let gh: RunningGatehouse;
let rp: oidcClient.Configuration;

beforeAll(async () => {
  // KEY_REFRESH_SECONDS=1: the server re-reads the keys every second (as serve.ts starts it).
  gh = await startGatehouse({ env: { KEY_REFRESH_SECONDS: '1' } });
  gh.gatehouse.host.startRefreshing();
  await gh.createUser(ALICE);
  rp = await discover(gh.issuer, 'web', SECRETS.web);
});
afterAll(() => gh?.close());

async function publishedJwks(issuer = gh.issuer): Promise<{ keys: Jwk[] }> {
  const res = await fetch((await endpoints(issuer)).jwks);
  expect(res.status).toBe(200);
  return (await res.json()) as { keys: Jwk[] };
}

const kidsOf = (set: { keys: Jwk[] }) => set.keys.map((k) => k.kid).sort();
const rsKid = (set: { keys: Jwk[] }) => set.keys.filter((k) => k.alg === 'RS256').map((k) => k.kid);
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

async function stateOf(kid: string): Promise<ListedKey | undefined> {
  return (await listKeys(gh.testDb.db)).find((k) => k.kid === kid);
}

/** The RS256 kid among a rotation's new kids. */
async function newRsKid(kids: string[]): Promise<string> {
  const rows = (await listKeys(gh.testDb.db)).filter((k) => kids.includes(k.kid) && k.alg === 'RS256');
  expect(rows).toHaveLength(1);
  return rows[0]!.kid;
}

interface Minted {
  idToken: string;
  userAccessToken: string;
  serviceAccessToken: string;
}

let refreshToken: string;

/** A fresh ID token and API access token (by refresh) and a service token (client_credentials). */
async function mint(): Promise<Minted> {
  const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: refreshToken });
  expect(refreshed.status).toBe(200);
  refreshToken = refreshed.body.refresh_token as string;
  const cc = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
  expect(cc.status).toBe(200);
  return {
    idToken: refreshed.body.id_token as string,
    userAccessToken: refreshed.body.access_token as string,
    serviceAccessToken: cc.body.access_token as string,
  };
}

/** Verifies all three as an RP and an API would, with only the JWKS `set` cached. */
async function verifyWith(set: { keys: Jwk[] }, minted: Minted): Promise<void> {
  const keys = createLocalJWKSet(set);
  await jwtVerify(minted.idToken, keys, { issuer: gh.issuer, audience: 'web' });
  await jwtVerify(minted.userAccessToken, keys, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
  await jwtVerify(minted.serviceAccessToken, keys, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
}

const kidsOfMinted = (m: Minted) => [kidOf(m.idToken), kidOf(m.userAccessToken), kidOf(m.serviceAccessToken)];

describe('rotation on a running server', () => {
  let jwks0: { keys: Jwk[] };
  let jwks1: { keys: Jwk[] };
  let k1: string;
  let k2: string;
  let mintedBefore: Minted;
  let browser: Awaited<ReturnType<typeof signIn>>['ua'];

  it('before a rotation: one RS256 key signs everything', async () => {
    const { tokens, ua } = await signIn(rp, {
      scope: 'openid offline_access things:read',
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    browser = ua;
    refreshToken = tokens.refresh_token!;
    jwks0 = await publishedJwks();
    expect(rsKid(jwks0)).toHaveLength(1);
    k1 = rsKid(jwks0)[0]!;
    mintedBefore = await mint();
    expect(kidsOfMinted(mintedBefore)).toEqual([k1, k1, k1]);
    await verifyWith(jwks0, mintedBefore);
    expect((await stateOf(k1))?.state).toBe('active');
  });

  it('after `rotate`: the new key is published at once (within KEY_REFRESH_SECONDS) but does not sign yet', async () => {
    const { kids, activatesAt } = await rotateKeys(gh.testDb.db, 3600);
    k2 = await newRsKid(kids);
    expect(activatesAt.getTime()).toBeGreaterThan(Date.now() + 3000_000);

    jwks1 = await eventually(
      async () => {
        const set = await publishedJwks();
        return kidsOf(set).includes(k2) && set;
      },
      { what: `the new kid ${k2} in the JWKS` },
    );
    const newSigning = (await listKeys(gh.testDb.db)).filter((k) => kids.includes(k.kid) && k.kind === 'signing').map((k) => k.kid);
    expect(newSigning).toHaveLength(2);
    expect(kidsOf(jwks1)).toEqual([...kidsOf(jwks0), ...newSigning].sort());
    expect(rsKid(jwks1).sort()).toEqual([k1, k2].sort());
    // Only public members are published, whatever the key's state.
    for (const jwk of jwks1.keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(jwk).not.toHaveProperty(member);
    expect(gh.logs.some((l) => l.event === 'keys.reloaded')).toBe(true);

    // Still signed by K1: an RP with the old JWKS cached, or the new one, verifies them.
    const minted = await mint();
    expect(kidsOfMinted(minted)).toEqual([k1, k1, k1]);
    await verifyWith(jwks0, minted);
    await verifyWith(jwks1, minted);

    expect((await stateOf(k1))?.state).toBe('active');
    expect((await stateOf(k2))?.state).toBe('next');
  });

  it('after activation: the new key signs, the old one stays published, and nothing anyone cached is unknown', async () => {
    // Time passes: the propagation delay is over.
    const now = new Date();
    await gh.testDb.db.query('UPDATE keys SET activates_at = $1 WHERE activates_at > $1', [now]);

    const minted = await eventually(
      async () => {
        const m = await mint();
        return kidOf(m.serviceAccessToken) === k2 && m;
      },
      { what: 'tokens signed with the new key' },
    );
    expect(kidsOfMinted(await mint())).toEqual([k2, k2, k2]);

    // An RP that fetched the JWKS during the propagation window knows the new kid already.
    await verifyWith(jwks1, minted);
    // The old key is still published: tokens it signed keep verifying against the live JWKS.
    const live = await publishedJwks();
    expect(rsKid(live).sort()).toEqual([k1, k2].sort());
    await verifyWith(live, mintedBefore);

    const k1Listed = await stateOf(k1);
    expect(k1Listed?.state).toBe('retired');
    expect(k1Listed?.retired_at?.getTime()).toBe(now.getTime());
    expect((await stateOf(k2))?.state).toBe('active');
  });

  it('a browser signed in before the rotation stays signed in (its cookies were signed with the old cookie key)', async () => {
    const result = await authorize(rp, { ua: browser, scope: 'openid', params: { prompt: 'none' } });
    expect(result.callback.searchParams.get('error')).toBeNull();
    expect(result.callback.searchParams.get('code')).toBeTypeOf('string');
  });

  it('switches signing exactly when a pending key activates, without waiting for KEY_REFRESH_SECONDS', async () => {
    // A second instance that only re-reads keys hourly: only its activation timer can switch it.
    const slow = await startGatehouse({ testDb: gh.testDb, env: { KEY_REFRESH_SECONDS: '3600' } });
    try {
      slow.gatehouse.host.startRefreshing();
      const cc = async () => {
        const res = await tokenRequest(slow.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
        expect(res.status).toBe(200);
        return res.body.access_token as string;
      };
      expect(kidOf(await cc())).toBe(k2);

      const { kids, activatesAt } = await rotateKeys(gh.testDb.db, 2);
      const k3 = await newRsKid(kids);
      // What the periodic refresh would do: see the pending key (and set the activation timer).
      expect(await slow.gatehouse.host.refreshKeys()).toBe(true);
      expect(rsKid(await publishedJwks(slow.issuer))).toContain(k3);

      const first = await eventually(
        async () => {
          const token = await cc();
          return kidOf(token) === k3 && token;
        },
        { what: 'the pending key to start signing' },
      );
      const { payload } = await jwtVerify(first, createLocalJWKSet((await publishedJwks(slow.issuer)) as unknown as JSONWebKeySet), { issuer: slow.issuer });
      expect(payload.iat! * 1000).toBeGreaterThanOrEqual(Math.floor(activatesAt.getTime() / 1000) * 1000);
      expect(rsKid(await publishedJwks(slow.issuer)).sort()).toEqual([k1, k2, k3].sort());
    } finally {
      await slow.close();
    }
  });

  it('retired keys expire after the retention: dropped from the JWKS, then deleted', async () => {
    const tiny: Retention = { signingSeconds: 60, cookieSeconds: 60 };
    const later = new Date(Date.now() + 3600_000);
    // With the default retention (the longest token life) nothing has expired yet.
    expect(await pruneExpiredKeys(gh.testDb.db)).toEqual([]);

    const listed = await listKeys(gh.testDb.db, tiny, later);
    const expired = listed.filter((k) => k.state === 'expired').map((k) => k.kid);
    expect(listed.find((k) => k.kid === k1)?.state).toBe('expired');
    expect(listed.find((k) => k.kid === k2)?.state).toBe('expired');
    expect(
      listed
        .filter((k) => k.state === 'active')
        .map((k) => k.kind)
        .sort(),
    ).toEqual(['cookie', 'signing', 'signing']);
    expect(expired).toHaveLength(6);

    const loaded = await loadKeys(gh.testDb.db, tiny, later);
    const loadedKids = loaded.jwks.keys.map((k) => k.kid);
    for (const kid of expired) expect(loadedKids).not.toContain(kid);
    expect(loaded.jwks.keys.filter((k) => k.alg === 'RS256').map((k) => k.kid)).toEqual([listed.find((k) => k.alg === 'RS256' && k.state === 'active')!.kid]);
    expect(loaded.cookieKeys).toHaveLength(1);

    expect((await pruneExpiredKeys(gh.testDb.db, tiny, later)).sort()).toEqual([...expired].sort());
    const { rows } = await gh.testDb.db.query<{ kid: string; kind: string }>('SELECT kid, kind FROM keys');
    expect(rows.map((r) => r.kid)).toHaveLength(3);
    for (const kid of expired) expect(rows.map((r) => r.kid)).not.toContain(kid);
    const remainingSigning = rows.filter((r) => r.kind === 'signing').map((r) => r.kid);

    // The running server stops publishing them at its next refresh.
    const live = await eventually(
      async () => {
        const set = await publishedJwks();
        return !kidsOf(set).includes(k1) && set;
      },
      { what: 'the deleted keys to leave the JWKS' },
    );
    expect(kidsOf(live)).toEqual(remainingSigning.sort());
    expect(rsKid(live)).toHaveLength(1);
    // And it still signs.
    const cc = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(cc.status).toBe(200);
    await jwtVerify(cc.body.access_token as string, createLocalJWKSet(live as unknown as JSONWebKeySet), { issuer: gh.issuer, audience: API });
  });
});

describe('automatic rotation (KEY_AUTO_ROTATE_DAYS)', () => {
  const DAY = 24 * 3600_000;
  const count = async () => Number((await gh.testDb.db.query<{ n: string }>('SELECT count(*) AS n FROM keys')).rows[0]!.n);

  it('does nothing while the newest signing key is younger than the period', async () => {
    const before = await count();
    expect(await rotateIfDue(gh.testDb.db, DAY, 900)).toEqual([]);
    expect(await count()).toBe(before);
  });

  it('rotates once when due, even when two instances check at the same moment, and not again right after', async () => {
    await gh.testDb.db.query(`UPDATE keys SET created_at = created_at - interval '2 days'`);
    const before = await count();
    const [a, b] = await Promise.all([rotateIfDue(gh.testDb.db, DAY, 900), rotateIfDue(gh.testDb.db, DAY, 900)]);
    const created = [...a, ...b];
    expect(created).toHaveLength(3);
    expect([a.length, b.length].sort()).toEqual([0, 3]);
    expect(await count()).toBe(before + 3);
    // The new keys are published first: next, activating after the propagation delay.
    const listed = await listKeys(gh.testDb.db);
    for (const kid of created) expect(listed.find((k) => k.kid === kid)?.state).toBe('next');
    expect(await rotateIfDue(gh.testDb.db, DAY, 900)).toEqual([]);
    expect(await count()).toBe(before + 3);
  });
});
