import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { migrate } from '../../src/db/migrate.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { createModelWrites, type ModelRow } from '../../src/storage/model_writes.js';
import { storageKey } from '../../src/storage/storage_key.js';
import { ReplayDetected } from '../../src/storage/replay_detection.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends, recordingDb } from '../support/storage_backends.js';

// Saves and consumes made in one turn of the event loop (the requests a loaded server handles
// together) go out as one statement each (model_writes.ts). Each caller still gets exactly its
// own outcome: a code presented twice in the same turn is consumed once, and a row saved twice
// keeps the later save.

const newId = () => randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);
const token = (model: string, jti: string, extra: Partial<AdapterPayload> = {}) =>
  ({ jti, kind: model, iat: now(), exp: now() + 600, clientId: 'web', accountId: randomUUID(), grantId: newId(), ...extra }) as AdapterPayload;

describe.each(availableBackends())('batched writes on %s', (backend) => {
  let testDb: TestDb;
  let recorded: ReturnType<typeof recordingDb>;
  let Adapter: new (model: string) => Adapter;
  const adapter = (model: string) => new Adapter(model);

  async function statements(fn: () => Promise<unknown>): Promise<string[]> {
    const before = recorded.calls.length;
    await fn();
    return recorded.calls.slice(before).map((c) => c.text.trim().split(/\s+/)[0]!.toUpperCase());
  }

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db);
    recorded = recordingDb(testDb.db);
    Adapter = createPostgresAdapter(recorded.db);
  });
  afterAll(() => testDb?.drop());

  it('saves the rows of one turn in one statement, each readable after', async () => {
    const ids = [newId(), newId(), newId()];
    const sent = await statements(() =>
      Promise.all(ids.map((id, i) => adapter(i === 2 ? 'RefreshToken' : 'AccessToken').upsert(id, token('x', id, { scope: `s${i}` }), 600))),
    );
    expect(sent).toEqual(['INSERT']);
    expect((await adapter('AccessToken').find(ids[0]!))?.scope).toBe('s0');
    expect((await adapter('AccessToken').find(ids[1]!))?.scope).toBe('s1');
    expect((await adapter('RefreshToken').find(ids[2]!))?.scope).toBe('s2');
  });

  it('keeps the later of two saves of one row in the same turn', async () => {
    const id = newId();
    await Promise.all([
      adapter('Session').upsert(id, token('Session', id, { uid: newId(), scope: 'first' }), 600),
      adapter('Session').upsert(id, token('Session', id, { uid: newId(), scope: 'second' }), 600),
    ]);
    expect((await adapter('Session').find(id))?.scope).toBe('second');
  });

  it('consumes the codes of one turn in one statement', async () => {
    const ids = [newId(), newId()];
    for (const id of ids) await adapter('AuthorizationCode').upsert(id, token('AuthorizationCode', id), 600);
    const sent = await statements(() => Promise.all(ids.map((id) => adapter('AuthorizationCode').consume(id))));
    expect(sent).toEqual(['UPDATE']);
    for (const id of ids) expect(typeof (await adapter('AuthorizationCode').find(id))?.consumed).toBe('number');
  });

  it('lets only one of two consumes of the same code in one turn win, and revokes the grant for the other', async () => {
    const id = newId();
    const code = token('AuthorizationCode', id);
    await adapter('AuthorizationCode').upsert(id, code, 600);
    const sibling = newId();
    await adapter('AccessToken').upsert(sibling, token('AccessToken', sibling, { grantId: code.grantId }), 600);
    const outcomes = await Promise.allSettled([adapter('AuthorizationCode').consume(id), adapter('AuthorizationCode').consume(id)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(errors.InvalidGrant);
    // The loser's replay took the grant's tokens with it.
    expect(await adapter('AccessToken').find(sibling)).toBeUndefined();
  });

  // A row the database refuses (jsonb cannot hold a lone surrogate) used to fail every row of
  // its statement: another request's rotated refresh token, saved in the same turn, was lost.
  it('fails only the caller of a row the database refuses; the rows saved with it are stored', async () => {
    const writes = createModelWrites(recorded.db);
    const row = (id: string, payload: AdapterPayload): ModelRow => ({
      model: 'RefreshToken',
      id: storageKey('RefreshToken', id),
      payload,
      grantId: null,
      userCode: null,
      uid: null,
      expiresAt: new Date(Date.now() + 600_000),
      accountId: null,
      clientInfo: null,
    });
    const good = [newId(), newId(), newId()];
    const bad = newId();
    const outcomes = await Promise.allSettled([
      writes.upsert(row(good[0]!, token('RefreshToken', good[0]!))),
      writes.upsert(row(bad, token('RefreshToken', bad, { claims: { id_token: { '\ud800': null } } }))),
      writes.upsert(row(good[1]!, token('RefreshToken', good[1]!))),
      writes.upsert(row(good[2]!, token('RefreshToken', good[2]!))),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    for (const id of good) expect((await adapter('RefreshToken').find(id))?.jti).toBe(id);
    expect(await adapter('RefreshToken').find(bad)).toBeUndefined();
  });

  it('refuses to save a lone surrogate or a NUL through the adapter: invalid_request, nothing stored', async () => {
    const unstorable = [{ id_token: { '\ud800': null } }, { userinfo: { email: { value: 'a\udfffb' } } }, { id_token: { 'x\u0000': null } }];
    for (const claims of unstorable as AdapterPayload['claims'][]) {
      const id = newId();
      await expect(adapter('AuthorizationCode').upsert(id, token('AuthorizationCode', id, { claims }), 600)).rejects.toBeInstanceOf(errors.InvalidRequest);
      expect(await adapter('AuthorizationCode').find(id)).toBeUndefined();
    }
  });

  // A client assertion or DPoP proof is remembered by the library with find-then-upsert: saves
  // of one proof must not be merged, the first writer wins and the others learn they lost.
  it('saves a proof (ReplayDetection) insert-only, on its own: of several saves in one turn exactly one stands', async () => {
    const id = newId();
    const proof = { jti: id, iss: 'web', iat: now(), exp: now() + 60 } as AdapterPayload;
    let outcomes: PromiseSettledResult<void>[] = [];
    const sent = await statements(async () => {
      outcomes = await Promise.allSettled([1, 2, 3].map(() => adapter('ReplayDetection').upsert(id, proof, 60)));
    });
    expect(sent).toEqual(['INSERT', 'INSERT', 'INSERT']);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const lost of outcomes.filter((o) => o.status === 'rejected')) expect(lost.reason).toBeInstanceOf(ReplayDetected);
    await expect(adapter('ReplayDetection').upsert(id, proof, 60)).rejects.toBeInstanceOf(ReplayDetected);
  });

  it('replaces a proof row that expired but was not swept yet', async () => {
    const id = newId();
    const proof = { jti: id, iss: 'web', iat: now(), exp: now() + 60 } as AdapterPayload;
    await adapter('ReplayDetection').upsert(id, proof, 60);
    await testDb.db.query(`UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE model = 'ReplayDetection' AND id = $1`, [
      storageKey('ReplayDetection', id),
    ]);
    await expect(adapter('ReplayDetection').upsert(id, proof, 60)).resolves.toBeUndefined();
    expect(await adapter('ReplayDetection').find(id)).toBeDefined();
  });
});
