import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createUpstreamIdentities } from '../../src/accounts/upstream_identities.js';
import { checkPassword, hashPassword } from '../../src/accounts/passwords.js';
import type { TestDb } from '../support/test_db.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';

// Upgrading across migration 0013 (upstream_identities, upstream_requests): a user stored by an
// earlier release still signs in with their password, has no linked identity, and can be linked
// to one; the same upstream identity cannot be linked twice; unlinking the only identity of a
// user with a password is allowed, of one without a password refused.

describe.each(availableBackends())('migration 0013 on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const file of await readdir(MIGRATIONS_DIR)) if (file < '0013') await cp(path.join(MIGRATIONS_DIR, file), path.join(before, file));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (before) await rm(before, { recursive: true, force: true });
  });

  it('keeps existing users signing in; they can then be linked to an upstream identity', async () => {
    await migrate(testDb.db, before);
    const password = 'a passphrase from the release before';
    await testDb.db.query(
      `INSERT INTO users (username, email, name, password_hash, password_normalized) VALUES ('olduser', 'old@example.com', 'Old User', $1, true)`,
      [await hashPassword(password)],
    );
    expect(await migrate(testDb.db)).toContain('0013');

    const users = createUsersRepo(testDb.db);
    const identities = createUpstreamIdentities(testDb.db);
    const user = (await users.findByLogin('old@example.com'))!;
    expect((await checkPassword(user, password)).ok).toBe(true);
    expect(await identities.listFor(user.sub)).toEqual([]);

    const linked = await identities.link({ upstreamId: 'corp', issuer: 'https://sso.corp.example', upstreamSub: 'u-1', sub: user.sub });
    expect(await identities.use('https://sso.corp.example', 'u-1')).toMatchObject({ sub: user.sub, upstream_id: 'corp' });
    await expect(identities.link({ upstreamId: 'corp', issuer: 'https://sso.corp.example', upstreamSub: 'u-1', sub: user.sub })).rejects.toMatchObject({
      code: 'ERR_IDENTITY_LINKED',
    });
    expect(await identities.unlink(user.sub, linked.id)).toBe('unlinked');

    const federated = await users.createWithoutPassword({ usernameBase: 'olduser', email_verified: false });
    expect(federated).toMatchObject({ username: 'olduser-2', password_hash: null });
    const only = await identities.link({ upstreamId: 'corp', issuer: 'https://sso.corp.example', upstreamSub: 'u-2', sub: federated.sub });
    expect(await identities.unlink(federated.sub, only.id)).toBe('last_sign_in');
    expect(await identities.listFor(federated.sub)).toHaveLength(1);
  });
});
