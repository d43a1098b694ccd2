import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { migrate } from '../../src/db/migrate.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { hashId, storageKey } from '../../src/storage/storage_key.js';
import type { TestDb } from '../support/test_db.js';
import { createTestDb } from '../support/test_db.js';
import { availableBackends, planWithoutSeqScan, recordingDb, type RecordedQuery } from '../support/storage_backends.js';

// The storage adapter's contract with oidc-provider, one suite run against every back end this
// run has: what goes in comes out, expired rows never come out, `consumed` is exact (reuse
// detection depends on it), and a grant is revoked in one statement.

const MODELS = [
  'Session',
  'Interaction',
  'AuthorizationCode',
  'AccessToken',
  'RefreshToken',
  'ClientCredentials',
  'Grant',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
] as const;

const GRANTABLE = ['AuthorizationCode', 'AccessToken', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'] as const;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Found by a secondary key, a hashed model comes back without its id (the row does not hold it). */
const withoutId = ({ jti: _jti, ...rest }: AdapterPayload) => rest;
const newId = () => randomUUID().replaceAll('-', '');

/** A payload shaped like the library's, with the look-up fields each model really carries. */
function samplePayload(model: string, extra: Partial<AdapterPayload> = {}): AdapterPayload {
  const iat = nowSeconds();
  return {
    jti: newId(),
    kind: model,
    iat,
    exp: iat + 3600,
    accountId: randomUUID(),
    clientId: 'web',
    scope: 'openid profile',
    claims: { userinfo: { email: null }, id_token: { auth_time: { essential: true } } },
    ...(GRANTABLE.includes(model as never) ? { grantId: newId() } : {}),
    ...(model === 'Session' || model === 'Interaction' ? { uid: newId() } : {}),
    ...(model === 'DeviceCode' ? { userCode: `${newId().slice(0, 4).toUpperCase()}-EFGH` } : {}),
    extra: { name: 'Zoë ✓', nested: [1, 'two', { three: true }], nothing: null },
    ...extra,
  };
}

describe.each(availableBackends())('oidc adapter on %s', (backend) => {
  let testDb: TestDb;
  let Adapter: new (model: string) => Adapter;
  // The library always stores a model under its own jti; the adapter relies on that.
  const adapter = (model: string): Adapter => {
    const real = new Adapter(model);
    return Object.assign(real, {
      upsert: (id: string, payload: AdapterPayload, expiresIn?: number) => {
        if (model !== 'Client') payload.jti = id;
        return (Adapter.prototype as Adapter).upsert.call(real, id, payload, expiresIn);
      },
    });
  };

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db); // a fresh Postgres database starts empty
    Adapter = createPostgresAdapter(testDb.db);
  });
  afterAll(() => testDb?.drop());

  const expire = (model: string, id: string) =>
    testDb.db.query(`UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE model = $1 AND id = $2`, [model, storageKey(model, id)]);

  describe('upsert and find', () => {
    it.each(MODELS)('%s: returns what was stored', async (model) => {
      const id = newId();
      const payload = samplePayload(model);
      await adapter(model).upsert(id, payload, 300);
      expect(await adapter(model).find(id)).toEqual(payload);
    });

    it('keeps models apart: the same id under another model is another row', async () => {
      const id = newId();
      await adapter('AccessToken').upsert(id, samplePayload('AccessToken', { scope: 'a' }), 300);
      await adapter('RefreshToken').upsert(id, samplePayload('RefreshToken', { scope: 'b' }), 300);
      expect((await adapter('AccessToken').find(id))?.scope).toBe('a');
      expect((await adapter('RefreshToken').find(id))?.scope).toBe('b');
      expect(await adapter('Session').find(id)).toBeUndefined();
    });

    it('replaces the payload on a second upsert of the same id', async () => {
      const id = newId();
      await adapter('Session').upsert(id, samplePayload('Session', { accountId: 'first' }), 300);
      const second = samplePayload('Session', { accountId: 'second' });
      await adapter('Session').upsert(id, second, 600);
      expect(await adapter('Session').find(id)).toEqual(second);
      expect(await adapter('Session').findByUid(second.uid!)).toEqual(withoutId(second));
    });

    it('returns undefined for an id never stored', async () => {
      expect(await adapter('AccessToken').find(newId())).toBeUndefined();
    });

    it('stores the expiry the library asks for, and none without expiresIn', async () => {
      const timed = newId();
      const forever = newId();
      await adapter('Grant').upsert(timed, samplePayload('Grant'), 120);
      await adapter('Grant').upsert(forever, samplePayload('Grant'));
      const { rows } = await testDb.db.query<{ id: string; seconds: number | null }>(
        `SELECT id, extract(epoch FROM expires_at - now())::float8 AS seconds FROM oidc_models WHERE model = 'Grant' AND id = ANY($1)`,
        [[timed, forever]],
      );
      const byId = Object.fromEntries(rows.map((r) => [r.id, r.seconds]));
      expect(byId[forever]).toBeNull();
      expect(byId[timed]).toBeGreaterThan(100);
      expect(byId[timed]).toBeLessThanOrEqual(120);
    });
  });

  describe('expiry', () => {
    it.each(MODELS)('%s: an expired row is never returned', async (model) => {
      const id = newId();
      const payload = samplePayload(model);
      await adapter(model).upsert(id, payload, 300);
      await expire(model, id);
      expect(await adapter(model).find(id)).toBeUndefined();
      if (payload.uid) expect(await adapter(model).findByUid(payload.uid)).toBeUndefined();
      if (payload.userCode) expect(await adapter(model).findByUserCode(payload.userCode)).toBeUndefined();
    });
  });

  describe('consume', () => {
    it('sets consumed (epoch seconds) and a later upsert does not clear it', async () => {
      const id = newId();
      const payload = samplePayload('AuthorizationCode');
      await adapter('AuthorizationCode').upsert(id, payload, 60);
      expect(await adapter('AuthorizationCode').find(id)).not.toHaveProperty('consumed');

      const before = nowSeconds();
      await adapter('AuthorizationCode').consume(id);
      const consumed = (await adapter('AuthorizationCode').find(id))?.consumed;
      expect(consumed).toBeTypeOf('number');
      expect(Number.isInteger(consumed)).toBe(true);
      expect(consumed).toBeGreaterThanOrEqual(before - 1);
      expect(consumed).toBeLessThanOrEqual(nowSeconds() + 1);

      // The library re-saves tokens (e.g. a refresh token's iat/rotation bookkeeping).
      await adapter('AuthorizationCode').upsert(id, { ...payload, scope: 'openid' }, 60);
      const after = await adapter('AuthorizationCode').find(id);
      expect(after?.scope).toBe('openid');
      expect(after?.consumed).toBe(consumed);
    });

    it('ignores a stale consumed value in an upserted payload', async () => {
      const id = newId();
      await adapter('RefreshToken').upsert(id, { ...samplePayload('RefreshToken'), consumed: 12345 }, 60);
      expect(await adapter('RefreshToken').find(id)).not.toHaveProperty('consumed');
    });

    it('consumes only the row asked for', async () => {
      const [a, b] = [newId(), newId()];
      await adapter('RefreshToken').upsert(a, samplePayload('RefreshToken'), 60);
      await adapter('RefreshToken').upsert(b, samplePayload('RefreshToken'), 60);
      await adapter('RefreshToken').consume(a);
      expect((await adapter('RefreshToken').find(a))?.consumed).toBeTypeOf('number');
      expect(await adapter('RefreshToken').find(b)).not.toHaveProperty('consumed');
    });
  });

  describe('secrets at rest', () => {
    it.each(MODELS.filter((m) => m !== 'Grant'))('%s: keyed by the SHA-256 of its id, with the id left out of the payload', async (model) => {
      const id = newId();
      await adapter(model).upsert(id, samplePayload(model), 300);
      const { rows } = await testDb.db.query<{ id: string; payload: AdapterPayload; user_code: string | null }>(
        'SELECT id, payload, user_code FROM oidc_models WHERE model = $1 AND id = $2',
        [model, hashId(id)],
      );
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows[0])).not.toContain(id);
      expect(rows[0]!.payload.jti).toBeUndefined();
      if (model === 'DeviceCode') expect(rows[0]!.user_code).not.toContain('EFGH');
      expect((await adapter(model).find(id))?.jti).toBe(id);
    });

    it('keeps grants under their own id: tokens name them, and they are no credential', async () => {
      const id = newId();
      await adapter('Grant').upsert(id, samplePayload('Grant'), 300);
      const { rowCount } = await testDb.db.query(`SELECT 1 FROM oidc_models WHERE model = 'Grant' AND id = $1`, [id]);
      expect(rowCount).toBe(1);
    });
  });

  describe('findByUid and findByUserCode', () => {
    it('finds a Session and an Interaction by uid, each under its own model', async () => {
      const uid = newId();
      const session = samplePayload('Session', { uid });
      const interaction = samplePayload('Interaction', { uid });
      await adapter('Session').upsert(newId(), session, 300);
      await adapter('Interaction').upsert(newId(), interaction, 300);
      expect(await adapter('Session').findByUid(uid)).toEqual(withoutId(session));
      expect(await adapter('Interaction').findByUid(uid)).toEqual(withoutId(interaction));
      expect(await adapter('Session').findByUid(newId())).toBeUndefined();
    });

    it('finds a DeviceCode by user code, with its consumed flag', async () => {
      const id = newId();
      const payload = samplePayload('DeviceCode', { userCode: 'WXYZ-1234' });
      await adapter('DeviceCode').upsert(id, payload, 300);
      // In place of its id (only its hash is stored), a handle the device flow saves it by (device_code_rows.ts).
      const found = await adapter('DeviceCode').findByUserCode('WXYZ-1234');
      expect(found).toEqual({ ...withoutId(payload), jti: expect.stringMatching(/^~[A-Za-z0-9_-]{43}$/) });
      expect(found?.jti).not.toContain(id);
      await adapter('DeviceCode').consume(id);
      expect((await adapter('DeviceCode').findByUserCode('WXYZ-1234'))?.consumed).toBeTypeOf('number');
      expect(await adapter('DeviceCode').findByUserCode('NOPE-0000')).toBeUndefined();
    });
  });

  describe('destroy', () => {
    it('removes the row of that model only', async () => {
      const id = newId();
      await adapter('AccessToken').upsert(id, samplePayload('AccessToken'), 300);
      await adapter('Session').upsert(id, samplePayload('Session'), 300);
      await adapter('AccessToken').destroy(id);
      expect(await adapter('AccessToken').find(id)).toBeUndefined();
      expect(await adapter('Session').find(id)).toBeDefined();
    });
  });

  describe('revokeByGrantId', () => {
    it('removes every grantable row of the grant in one statement, and nothing else', async () => {
      const grantId = newId();
      const otherGrant = newId();
      const revoked = GRANTABLE.map((model) => ({ model, id: newId() }));
      for (const { model, id } of revoked) await adapter(model).upsert(id, samplePayload(model, { grantId }), 300);
      const kept = [
        { model: 'AccessToken', id: newId(), payload: samplePayload('AccessToken', { grantId: otherGrant }) },
        { model: 'RefreshToken', id: newId(), payload: samplePayload('RefreshToken', { grantId: otherGrant }) },
        // Sessions and interactions mention grants but are not the grant's tokens.
        { model: 'Session', id: newId(), payload: samplePayload('Session', { grantId }) },
        { model: 'Interaction', id: newId(), payload: samplePayload('Interaction', { grantId }) },
        { model: 'Grant', id: grantId, payload: samplePayload('Grant') },
      ];
      for (const { model, id, payload } of kept) await adapter(model).upsert(id, payload, 300);

      const recorded = recordingDb(testDb.db);
      await new (createPostgresAdapter(recorded.db))('AccessToken').revokeByGrantId(grantId);
      expect(recorded.calls).toHaveLength(1);

      for (const { model, id } of revoked) expect(await adapter(model).find(id), model).toBeUndefined();
      for (const { model, id, payload } of kept) expect(await adapter(model).find(id), model).toEqual(payload);
    });
  });

  describe('Client', () => {
    it('reads clients from the clients table', async () => {
      const metadata = { client_id: 'from-table', client_secret: 's3cret', redirect_uris: ['https://rp.example.test/cb'], skip_consent: true };
      await testDb.db.query(`INSERT INTO clients (client_id, metadata) VALUES ($1, $2)`, ['from-table', metadata]);
      expect(await adapter('Client').find('from-table')).toEqual(metadata);
      expect(await adapter('Client').find('no-such-client')).toBeUndefined();
    });

    it('writes and removes rows of the clients table', async () => {
      await adapter('Client').upsert('written', { client_id: 'written', redirect_uris: ['https://rp.example.test/cb'] });
      const { rows } = await testDb.db.query<{ metadata: unknown }>(`SELECT metadata FROM clients WHERE client_id = 'written'`);
      expect(rows).toEqual([{ metadata: { client_id: 'written', redirect_uris: ['https://rp.example.test/cb'] } }]);
      await adapter('Client').destroy('written');
      expect(await adapter('Client').find('written')).toBeUndefined();
    });
  });

  describe('indexes', () => {
    async function statementOf(run: (a: (model: string) => Adapter) => Promise<unknown>): Promise<RecordedQuery> {
      const recorded = recordingDb(testDb.db);
      const Recording = createPostgresAdapter(recorded.db);
      await run((model) => new Recording(model));
      expect(recorded.calls).toHaveLength(1);
      return recorded.calls[0]!;
    }

    /** The index the plan scans, checked against pg_indexes to cover `column`. */
    async function indexUsedFor(query: RecordedQuery, column: string): Promise<string> {
      const plan = await planWithoutSeqScan(testDb.db, query);
      const match = /Index (?:Only )?Scan (?:Backward )?using (\w+)|Bitmap Index Scan on (\w+)/.exec(plan);
      const name = match?.[1] ?? match?.[2];
      expect(name, plan).toBeDefined();
      const { rows } = await testDb.db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'oidc_models' AND indexname = $1`, [
        name,
      ]);
      expect(rows[0]?.indexdef, plan).toMatch(new RegExp(`\\b${column}\\b`));
      return name!;
    }

    beforeAll(async () => {
      // Enough rows that an index is plainly worth it.
      await testDb.db.query(
        `INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, expires_at)
         SELECT (ARRAY['Session','AccessToken','DeviceCode'])[1 + i % 3], 'bulk' || i, '{}'::jsonb,
                'g' || i, 'u' || i, 'c' || i, now() + interval '1 hour'
         FROM generate_series(1, 2000) AS i`,
      );
      await testDb.db.query('ANALYZE oidc_models');
    });

    it('finds by uid through an index', async () => {
      const query = await statementOf((a) => a('Session').findByUid('u3'));
      await indexUsedFor(query, 'uid');
    });

    it('finds by user_code through an index', async () => {
      const query = await statementOf((a) => a('DeviceCode').findByUserCode('c2'));
      await indexUsedFor(query, 'user_code');
    });

    it('revokes by grant_id through an index', async () => {
      const query = await statementOf((a) => a('AccessToken').revokeByGrantId('g1'));
      await indexUsedFor(query, 'grant_id');
    });

    it('finds by id through the primary key', async () => {
      const query = await statementOf((a) => a('AccessToken').find('bulk1'));
      await indexUsedFor(query, 'id');
    });
  });
});
