import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { migrate } from '../../src/db/migrate.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { trackRequestContext } from '../../src/core/request_context.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createFindAccount } from '../../src/accounts/find_account.js';
import { createScopeClaims } from '../../src/accounts/scope_claims.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends, recordingDb } from '../support/storage_backends.js';

// The adapter reads a token with its grant, the session it expires with and its user in one
// statement, and hands those to the look-ups the library makes next in the same request
// (postgres_adapter.ts, read_ahead_user.ts). Counted here in statements: what the refresh,
// userinfo and introspection paths cost, and that nothing read ahead outlives a write or leaks
// into another request.

const newId = () => randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);

/** Runs `fn` as the body of one HTTP request would run (its own request context). */
function inRequest<T>(fn: () => Promise<T>): Promise<T> {
  const req = { ip: '127.0.0.1', get: () => undefined } as unknown as Request;
  return new Promise<T>((resolve, reject) => trackRequestContext(req, {} as unknown as Response, () => void fn().then(resolve, reject)));
}

describe.each(availableBackends())('reading ahead on %s', (backend) => {
  let testDb: TestDb;
  let recorded: ReturnType<typeof recordingDb>;
  let Adapter: new (model: string) => Adapter;
  let findAccount: ReturnType<typeof createFindAccount>;
  let sub: string;

  const adapter = (model: string) => new Adapter(model);
  /** Statements sent while `fn` runs. */
  async function statements(fn: () => Promise<unknown>): Promise<number> {
    const before = recorded.calls.length;
    await fn();
    return recorded.calls.length - before;
  }

  /** A grant, a session and an access token bound to both, as a sign-in leaves them. */
  async function signedIn(overrides: Partial<AdapterPayload> = {}) {
    const grantId = newId();
    const sessionUid = newId();
    const tokenId = newId();
    const grant = {
      jti: grantId,
      kind: 'Grant',
      iat: now(),
      exp: now() + 3600,
      accountId: sub,
      clientId: 'web',
      openid: { scope: 'openid' },
    } as AdapterPayload;
    const session = {
      jti: newId(),
      kind: 'Session',
      uid: sessionUid,
      accountId: sub,
      iat: now(),
      exp: now() + 3600,
      authorizations: { web: { grantId } },
    } as AdapterPayload;
    const token = {
      jti: tokenId,
      kind: 'AccessToken',
      iat: now(),
      exp: now() + 3600,
      accountId: sub,
      clientId: 'web',
      grantId,
      sessionUid,
      expiresWithSession: true,
      scope: 'openid',
      ...overrides,
    } as AdapterPayload;
    await adapter('Grant').upsert(grantId, grant, 3600);
    await adapter('Session').upsert(session.jti!, session, 3600);
    await adapter('AccessToken').upsert(tokenId, token, 3600);
    return { grantId, sessionUid, tokenId, grant, session, token };
  }

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db);
    recorded = recordingDb(testDb.db);
    Adapter = createPostgresAdapter(recorded.db);
    const users = createUsersRepo(recorded.db);
    findAccount = createFindAccount(users, createScopeClaims());
    sub = (await users.create({ username: `reader-${newId().slice(0, 8)}`, password: 'a long enough password 12345', email_verified: false })).sub;
  });
  afterAll(() => testDb?.drop());

  it('answers the grant, session and account look-ups after a token from the one statement that found it', async () => {
    const { grantId, sessionUid, tokenId, grant } = await signedIn();
    const count = await statements(() =>
      inRequest(async () => {
        expect((await adapter('AccessToken').find(tokenId))?.grantId).toBe(grantId);
        expect(await adapter('Grant').find(grantId)).toEqual(grant);
        expect((await adapter('Session').findByUid(sessionUid))?.uid).toBe(sessionUid);
        expect((await findAccount({} as never, sub))?.accountId).toBe(sub);
      }),
    );
    expect(count).toBe(1);
  });

  it('looks one id up under several token models in one statement, each model getting its own answer', async () => {
    const { tokenId } = await signedIn();
    let found: Awaited<ReturnType<Adapter['find']>>[] = [];
    const count = await statements(() =>
      inRequest(async () => {
        found = await Promise.all(['AccessToken', 'ClientCredentials', 'RefreshToken'].map((m) => adapter(m).find(tokenId)));
      }),
    );
    expect(count).toBe(1);
    expect(found.map((p) => p?.kind)).toEqual(['AccessToken', undefined, undefined]);
  });

  it('gathers the look-ups of requests served together into one statement, each request taking its own rows', async () => {
    const a = await signedIn();
    const b = await signedIn();
    const grants: Awaited<ReturnType<Adapter['find']>>[] = [];
    const count = await statements(() =>
      Promise.all(
        [a, b, a].map((t) =>
          inRequest(async () => {
            expect((await adapter('AccessToken').find(t.tokenId))?.grantId).toBe(t.grantId);
            const grant = await adapter('Grant').find(t.grantId);
            expect(grant).toEqual(t.grant);
            grants.push(grant);
          }),
        ),
      ),
    );
    expect(count).toBe(1);
    // The two requests that presented the same token did not get the same objects.
    const ofA = grants.filter((g) => g && g.jti === a.grantId);
    expect(ofA).toHaveLength(2);
    expect(ofA[0]).not.toBe(ofA[1]);
  });

  it('reads again after a write in the same request, and never hands a row to another request', async () => {
    const { grantId, tokenId } = await signedIn();
    await inRequest(async () => {
      await adapter('AccessToken').find(tokenId);
      await adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant', accountId: sub, clientId: 'web', scope: 'changed' }, 3600);
      const count = await statements(async () => expect((await adapter('Grant').find(grantId))?.scope).toBe('changed'));
      expect(count).toBe(1);
    });
    await inRequest(() => adapter('AccessToken').find(tokenId));
    // A look-up in another request, or outside any, reads the database.
    expect(await statements(() => inRequest(() => adapter('Grant').find(grantId)))).toBe(1);
    expect(await statements(() => adapter('Grant').find(grantId))).toBe(1);
  });

  it('reads nothing ahead that is gone: an expired grant or session is not found, and a disabled user is no account', async () => {
    const { grantId, sessionUid, tokenId } = await signedIn();
    await testDb.db.query(
      `UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE (model = 'Grant' AND id = $1) OR (model = 'Session' AND uid = $2)`,
      [grantId, sessionUid],
    );
    await testDb.db.query('UPDATE users SET disabled = true WHERE sub = $1', [sub]);
    try {
      await inRequest(async () => {
        expect(await adapter('AccessToken').find(tokenId)).toBeDefined();
        expect(await adapter('Grant').find(grantId)).toBeUndefined();
        expect(await adapter('Session').findByUid(sessionUid)).toBeUndefined();
        expect(await findAccount({} as never, sub)).toBeUndefined();
      });
    } finally {
      await testDb.db.query('UPDATE users SET disabled = false WHERE sub = $1', [sub]);
    }
  });

  it('joins no user for an account id that is not a uuid, and still finds the token', async () => {
    const { tokenId } = await signedIn({ accountId: 'not-a-uuid' });
    await inRequest(async () => {
      expect((await adapter('AccessToken').find(tokenId))?.accountId).toBe('not-a-uuid');
    });
  });
});
