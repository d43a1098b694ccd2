import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { migrate } from '../../src/db/migrate.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { trackRequestContext } from '../../src/core/request_context.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createReadCache } from '../../src/cache/read_cache.js';
import type { Caches } from '../../src/cache/caches.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends, recordingDb } from '../support/storage_backends.js';

// The storage adapter's own writes drop what its process cached, at once: no announcement from
// the database is needed (nor, here, listened to: this cache has no listener), so the instance
// that revoked, consumed or ended something never serves it again, not even for the instant
// before its own notification comes back. Counted in statements: a cached token costs none.

const newId = () => randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);

function inRequest<T>(fn: () => Promise<T>): Promise<T> {
  const req = { ip: '127.0.0.1', get: () => undefined } as unknown as Request;
  return new Promise<T>((resolve, reject) => trackRequestContext(req, {} as unknown as Response, () => void fn().then(resolve, reject)));
}

/** A cache serving from the start, invalidated only by this process's writes. */
function cachesWithoutListener(): Caches {
  return {
    read: createReadCache({ maxBytes: 4 * 1024 * 1024, active: true }),
    disabledBecause: null,
    listener: null,
    clientChanged: () => undefined,
    keysChanged: () => undefined,
    close: () => Promise.resolve(),
  };
}

describe.each(availableBackends())('the adapter’s own writes and its cache on %s', (backend) => {
  let testDb: TestDb;
  let recorded: ReturnType<typeof recordingDb>;
  let Adapter: new (model: string) => Adapter;
  let sub: string;
  const adapter = (model: string) => new Adapter(model);

  async function statements(fn: () => Promise<unknown>): Promise<number> {
    const before = recorded.calls.length;
    await fn();
    return recorded.calls.length - before;
  }

  async function signedIn(model = 'AccessToken') {
    const grantId = newId();
    const sessionUid = newId();
    const sessionId = newId();
    const tokenId = newId();
    const base = { iat: now(), exp: now() + 3600, accountId: sub };
    await adapter('Grant').upsert(grantId, { ...base, jti: grantId, kind: 'Grant', clientId: 'web', openid: { scope: 'openid' } }, 3600);
    await adapter('Session').upsert(sessionId, { ...base, jti: sessionId, kind: 'Session', uid: sessionUid, authorizations: { web: { grantId } } }, 3600);
    const token = { ...base, jti: tokenId, kind: model, clientId: 'web', grantId, sessionUid, expiresWithSession: true, scope: 'openid' } as AdapterPayload;
    await adapter(model).upsert(tokenId, token, 3600);
    return { grantId, sessionId, sessionUid, tokenId };
  }

  /** The token's payload as a fresh request finds it, after it was read (and cached) once. */
  async function cachedThen(model: string, tokenId: string): Promise<void> {
    expect(await inRequest(() => adapter(model).find(tokenId))).toBeDefined();
    expect(await statements(() => inRequest(() => adapter(model).find(tokenId)))).toBe(0);
  }

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db);
    recorded = recordingDb(testDb.db);
    Adapter = createPostgresAdapter(recorded.db, cachesWithoutListener());
    sub = (
      await createUsersRepo(testDb.db).create({ username: `cached-${newId().slice(0, 8)}`, password: 'a long enough password 12345', email_verified: false })
    ).sub;
  });
  afterAll(() => testDb?.drop());

  it('serves a token read again from memory, a copy each time', async () => {
    const { tokenId } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    const first = await inRequest(() => adapter('AccessToken').find(tokenId));
    first!.scope = 'changed by a caller';
    expect((await inRequest(() => adapter('AccessToken').find(tokenId)))?.scope).toBe('openid');
  });

  it('answers the look-ups of a cached token under the other token models without a statement', async () => {
    const { tokenId } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    let found: unknown[] = [];
    const count = await statements(() =>
      inRequest(async () => {
        found = await Promise.all(['AccessToken', 'ClientCredentials', 'RefreshToken'].map((m) => adapter(m).find(tokenId)));
      }),
    );
    expect(count).toBe(0);
    expect(found.map((p) => (p as AdapterPayload | undefined)?.kind)).toEqual(['AccessToken', undefined, undefined]);
    // Once the token is gone from the cache, those look-ups go to the database again.
    await inRequest(() => adapter('AccessToken').destroy(tokenId));
    expect(await statements(() => inRequest(() => adapter('RefreshToken').find(tokenId)))).toBe(1);
  });

  it('forgets a destroyed token at once', async () => {
    const { tokenId } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    await inRequest(() => adapter('AccessToken').destroy(tokenId));
    expect(await inRequest(() => adapter('AccessToken').find(tokenId))).toBeUndefined();
  });

  it('shows a consumed refresh token consumed at once', async () => {
    const { tokenId } = await signedIn('RefreshToken');
    await cachedThen('RefreshToken', tokenId);
    await inRequest(() => adapter('RefreshToken').consume(tokenId));
    expect((await inRequest(() => adapter('RefreshToken').find(tokenId)))?.consumed).toBeTypeOf('number');
  });

  it('forgets the tokens of a revoked grant at once', async () => {
    const { tokenId, grantId } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    await inRequest(() => adapter('AccessToken').revokeByGrantId(grantId));
    expect(await inRequest(() => adapter('AccessToken').find(tokenId))).toBeUndefined();
  });

  it('does not hand out a destroyed grant read with a cached token', async () => {
    const { tokenId, grantId } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    await inRequest(() => adapter('Grant').destroy(grantId));
    const grant = await inRequest(async () => {
      await adapter('AccessToken').find(tokenId);
      return adapter('Grant').find(grantId);
    });
    expect(grant).toBeUndefined();
  });

  it('does not hand out an ended session read with a cached token', async () => {
    const { tokenId, sessionId, sessionUid } = await signedIn();
    await cachedThen('AccessToken', tokenId);
    await inRequest(() => adapter('Session').destroy(sessionId));
    const session = await inRequest(async () => {
      await adapter('AccessToken').find(tokenId);
      return adapter('Session').findByUid(sessionUid);
    });
    expect(session).toBeUndefined();
  });
});
