import { describe, expect, it } from 'vitest';
import type { QueryConfig } from 'pg';
import type { Db } from '../../../src/db/db.js';
import { withReadAhead } from '../../../src/core/read_ahead.js';
import { createPostgresAdapter } from '../../../src/storage/postgres_adapter.js';
import { storageKey } from '../../../src/storage/storage_key.js';

// A write of a request and a read of the same request that overlap (their statements share a
// turn of the event loop): the grant read ahead with the token must not be served to the
// request's Grant.find afterwards, whichever of the two statements the database answers first.
// A fake Db answers the adapter's statements by name, and holds the write until released.

const oldGrant = { clientId: 'web', openid: { scope: 'openid' }, version: 'read with the token' };
const newGrant = { clientId: 'web', openid: { scope: 'openid profile' }, version: 'as written' };

function fakeDb() {
  const sent: string[] = [];
  let releaseWrite!: () => void;
  const writeHeld = new Promise<void>((resolve) => (releaseWrite = resolve));
  const query = async (config: QueryConfig) => {
    const name = config.name ?? config.text;
    sent.push(name);
    if (name === 'oidc_findTokens') {
      const row = {
        model: 'AccessToken',
        id: storageKey('AccessToken', 'at-1'),
        payload: { grantId: 'g-1' },
        consumed: null,
        grant_id: 'g-1',
        grant: oldGrant,
        session: null,
        account: null,
      };
      return { rows: [row], rowCount: 1 };
    }
    if (name === 'oidc_upsertMany') {
      await writeHeld;
      return { rows: [], rowCount: 1 };
    }
    if (name === 'oidc_consumeMany') return { rows: [{ model: 'AuthorizationCode', id: storageKey('AuthorizationCode', 'code-1') }], rowCount: 1 };
    if (name === 'oidc_find') return { rows: [{ payload: newGrant, consumed: null }], rowCount: 1 };
    throw new Error(`unexpected statement ${name}`);
  };
  return { db: { kind: 'postgres', query } as unknown as Db, sent, releaseWrite };
}

describe('the adapter’s read-ahead rows around a write of the same request', () => {
  it('does not serve a grant read by a token read begun before the write', async () => {
    const fake = fakeDb();
    const Adapter = createPostgresAdapter(fake.db);
    await withReadAhead(async () => {
      const read = new Adapter('AccessToken').find('at-1');
      const write = new Adapter('Grant').upsert('g-1', newGrant, 60);
      fake.releaseWrite();
      await Promise.all([read, write]);
      expect(await new Adapter('Grant').find('g-1')).toEqual(newGrant);
    });
    expect(fake.sent).toContain('oidc_find');
  });

  it('does not serve a grant read by a token read that ended while the write was under way', async () => {
    const fake = fakeDb();
    const Adapter = createPostgresAdapter(fake.db);
    await withReadAhead(async () => {
      const write = new Adapter('Grant').upsert('g-1', newGrant, 60);
      // The token's reply (with the grant as it was) arrives before the write is done.
      await new Adapter('AccessToken').find('at-1');
      fake.releaseWrite();
      await write;
      expect(await new Adapter('Grant').find('g-1')).toEqual(newGrant);
    });
    expect(fake.sent).toContain('oidc_find');
  });

  it('serves the grant read with the token when the request wrote nothing since (the saving it is for)', async () => {
    const fake = fakeDb();
    const Adapter = createPostgresAdapter(fake.db);
    await withReadAhead(async () => {
      await new Adapter('AccessToken').find('at-1');
      expect(await new Adapter('Grant').find('g-1')).toEqual(oldGrant);
    });
    expect(fake.sent).toEqual(['oidc_findTokens']);
  });

  it('keeps the grant across writes that cannot change it (a code consumed, a token saved), and forgets it after a session is saved', async () => {
    const fake = fakeDb();
    fake.releaseWrite();
    const Adapter = createPostgresAdapter(fake.db);
    await withReadAhead(async () => {
      await new Adapter('AccessToken').find('at-1');
      await new Adapter('AuthorizationCode').consume('code-1');
      await new Adapter('AccessToken').upsert('at-2', { grantId: 'g-1' }, 60);
      expect(await new Adapter('Grant').find('g-1')).toEqual(oldGrant);
      await new Adapter('AccessToken').find('at-1');
      await new Adapter('Session').upsert('s-1', { uid: 'u-1' }, 60);
      expect(await new Adapter('Grant').find('g-1')).toEqual(newGrant);
    });
    expect(fake.sent.filter((n) => n === 'oidc_find')).toHaveLength(1);
  });
});
