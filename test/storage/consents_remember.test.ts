import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createConsentsRepo } from '../../src/storage/consents_repo.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { buildUser } from '../support/factories.js';

// Remembering a consent adds to what the user already agreed to for that client, in one
// statement: earlier scopes, claims and API scopes stay (in their order), new ones follow, none
// twice; consents given at the same moment all stay.

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
  await migrate(testDb.db);
});
afterAll(() => testDb?.drop());

describe('consents.remember', () => {
  it('adds to an earlier consent, keeps its order, repeats nothing', async () => {
    const { sub } = await createUsersRepo(testDb.db).create(buildUser());
    const consents = createConsentsRepo(testDb.db);
    await consents.remember(sub, 'web', { scope: ['openid', 'profile'], claims: ['name'], resourceScopes: { 'https://api.test': ['read'] } });
    await consents.remember(sub, 'web', {
      scope: ['email', 'openid'],
      claims: ['email', 'name'],
      resourceScopes: { 'https://api.test': ['write', 'read'], 'https://other.test': ['x'] },
    });
    expect(await consents.find(sub, 'web')).toEqual({
      scope: ['openid', 'profile', 'email'],
      claims: ['name', 'email'],
      resourceScopes: { 'https://api.test': ['read', 'write'], 'https://other.test': ['x'] },
    });
    // A first consent is stored as given (each once).
    await consents.remember(sub, 'spa', { scope: ['openid', 'openid'], claims: [], resourceScopes: {} });
    expect(await consents.find(sub, 'spa')).toEqual({ scope: ['openid'], claims: [], resourceScopes: {} });
  });

  it('keeps every one of consents given at the same moment', async () => {
    const { sub } = await createUsersRepo(testDb.db).create(buildUser());
    const consents = createConsentsRepo(testDb.db);
    const scopes = ['a', 'b', 'c', 'd', 'e', 'f'];
    await Promise.all(scopes.map((s) => consents.remember(sub, 'web', { scope: [s], claims: [s], resourceScopes: { 'https://api.test': [s] } })));
    const found = await consents.find(sub, 'web');
    expect([...found!.scope].sort()).toEqual(scopes);
    expect([...found!.claims].sort()).toEqual(scopes);
    expect([...found!.resourceScopes['https://api.test']!].sort()).toEqual(scopes);
  });
});
