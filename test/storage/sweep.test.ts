import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { sweepExpired } from '../../src/storage/sweep_expired.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends, recordingDb } from '../support/storage_backends.js';

// The expiry sweep deletes every expired row, in batches of the size asked for, and nothing
// that is still live or never expires.

describe.each(availableBackends())('sweepExpired on %s', (backend) => {
  let testDb: TestDb;

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db); // a fresh Postgres database starts empty
  });
  afterAll(() => testDb?.drop());

  const count = async (where: string) => Number((await testDb.db.query<{ n: string }>(`SELECT count(*) AS n FROM oidc_models WHERE ${where}`)).rows[0]!.n);

  it('deletes 12,000 expired rows in batches of 5,000 and leaves the live ones', async () => {
    await testDb.db.query(
      `INSERT INTO oidc_models (model, id, payload, expires_at)
       SELECT (ARRAY['AccessToken','Session','Interaction','AuthorizationCode'])[1 + i % 4], 'expired-' || i, '{}'::jsonb,
              now() - (i || ' seconds')::interval
       FROM generate_series(1, 12000) AS i`,
    );
    await testDb.db.query(
      `INSERT INTO oidc_models (model, id, payload, expires_at)
       SELECT 'RefreshToken', 'live-' || i, '{}'::jsonb, now() + interval '1 hour' FROM generate_series(1, 100) AS i`,
    );
    await testDb.db.query(
      `INSERT INTO oidc_models (model, id, payload, expires_at)
       SELECT 'Grant', 'forever-' || i, '{}'::jsonb, NULL FROM generate_series(1, 10) AS i`,
    );

    const recorded = recordingDb(testDb.db);
    const deleted = await sweepExpired(recorded.db, 5000);

    expect(deleted).toBe(12_000);
    expect(recorded.calls).toHaveLength(3); // 5,000 + 5,000 + 2,000
    expect(await count(`id LIKE 'expired-%'`)).toBe(0);
    expect(await count(`id LIKE 'live-%'`)).toBe(100);
    expect(await count(`id LIKE 'forever-%'`)).toBe(10);

    // Nothing left to do: one statement that deletes nothing.
    expect(await sweepExpired(testDb.db, 5000)).toBe(0);
  });
});
