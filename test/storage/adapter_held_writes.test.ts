import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { migrate } from '../../src/db/migrate.js';
import { asOneStatement, withHeldWrites, type WriteHold } from '../../src/db/held_writes.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { createAuditLog } from '../../src/audit/audit_log.js';
import { createLogger } from '../../src/core/log.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends, recordingDb } from '../support/storage_backends.js';

// A request's writes are held and sent as one statement before it answers (db/held_writes.ts,
// storage/held_model_rows.ts): counted here in statements, with what a held write must still
// be: seen by the request's own reads, saved as last saved, sent before a write that must come
// after it, and stored or refused as a whole.

const newId = () => randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);

describe('one statement of held writes', () => {
  it('numbers each statement’s parameters on, in order', () => {
    const one = asOneStatement([
      { text: 'DELETE FROM a WHERE x = $1 AND y = $2', values: [1, 2] },
      { text: 'INSERT INTO b VALUES ($1, $1)', values: [3] },
    ]);
    expect(one.text).toBe('WITH w0 AS (DELETE FROM a WHERE x = $1 AND y = $2),\nw1 AS (INSERT INTO b VALUES ($3, $3))\nSELECT 1');
    expect(one.values).toEqual([1, 2, 3]);
  });
});

describe.each(availableBackends())('held writes on %s', (backend) => {
  let testDb: TestDb;
  let recorded: ReturnType<typeof recordingDb>;
  let Adapter: new (model: string) => Adapter;
  const adapter = (model: string) => new Adapter(model);

  /** Runs `fn` in a hold of its own, then flushes it, as a request does before answering. */
  const inHold = <T>(fn: (hold: WriteHold) => Promise<T>) =>
    withHeldWrites(async (hold) => {
      const out = await fn(hold);
      await hold.flush();
      return out;
    });
  async function statements(fn: () => Promise<unknown>): Promise<number> {
    const before = recorded.calls.length;
    await fn();
    return recorded.calls.length - before;
  }
  const grant = (id: string, scope = 'openid') =>
    ({ jti: id, kind: 'Grant', iat: now(), exp: now() + 3600, accountId: newId(), clientId: 'web', scope }) as AdapterPayload;

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    await migrate(testDb.db);
    recorded = recordingDb(testDb.db);
    Adapter = createPostgresAdapter(recorded.db);
  });
  afterAll(() => testDb?.drop());

  it('sends a resume’s saves and delete as one statement, and reads them back before it is sent', async () => {
    const interaction = newId();
    await adapter('Interaction').upsert(interaction, { jti: interaction, kind: 'Interaction', iat: now(), exp: now() + 600 }, 600);
    const grantId = newId();
    const code = newId();
    const session = { jti: newId(), kind: 'Session', uid: newId(), accountId: newId(), iat: now(), exp: now() + 3600 } as AdapterPayload;
    const count = await statements(() =>
      inHold(async () => {
        await adapter('Interaction').destroy(interaction);
        await adapter('Grant').upsert(grantId, grant(grantId), 3600);
        await adapter('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId, iat: now(), exp: now() + 60 }, 60);
        await adapter('Session').upsert(session.jti!, session, 3600);
        // Read-your-writes, with nothing sent yet.
        expect(
          await statements(async () => {
            expect(await adapter('Interaction').find(interaction)).toBeUndefined();
            expect((await adapter('Grant').find(grantId))?.scope).toBe('openid');
            expect((await adapter('AuthorizationCode').find(code))?.grantId).toBe(grantId);
            expect((await adapter('Session').findByUid(session.uid as string))?.jti).toBe(session.jti);
          }),
        ).toBe(0);
      }),
    );
    expect(count).toBe(1);
    // Sent: outside the hold, every read finds what was written.
    expect(await adapter('Interaction').find(interaction)).toBeUndefined();
    expect((await adapter('Grant').find(grantId))?.accountId).toBeTypeOf('string');
    expect((await adapter('AuthorizationCode').find(code))?.grantId).toBe(grantId);
    expect((await adapter('Session').findByUid(session.uid as string))?.accountId).toBe(session.accountId);
  });

  it('saves a row saved twice as it was saved last, and a row deleted after its save not at all', async () => {
    const twice = newId();
    const gone = newId();
    const count = await statements(() =>
      inHold(async () => {
        await adapter('Grant').upsert(twice, grant(twice, 'first'), 3600);
        await adapter('Grant').upsert(twice, grant(twice, 'last'), 3600);
        await adapter('Grant').upsert(gone, grant(gone), 3600);
        await adapter('Grant').destroy(gone);
      }),
    );
    expect(count).toBe(1);
    expect((await adapter('Grant').find(twice))?.scope).toBe('last');
    expect(await adapter('Grant').find(gone)).toBeUndefined();
  });

  it('sends what is held before consuming a code, so a code saved and consumed in one request is consumed once', async () => {
    const code = newId();
    await inHold(async () => {
      await adapter('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', iat: now(), exp: now() + 60 }, 60);
      await adapter('AuthorizationCode').consume(code);
      await expect(adapter('AuthorizationCode').consume(code)).rejects.toMatchObject({ error: 'invalid_grant' });
    });
  });

  it('stores none of the held writes when their statement fails, and the flush says so', async () => {
    const grantId = newId();
    const session = { jti: newId(), kind: 'Session', uid: newId(), iat: now(), exp: now() + 3600 } as AdapterPayload;
    await testDb.db.query(`CREATE FUNCTION refuse_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'store broken'; END $$`);
    await testDb.db.query(
      `CREATE TRIGGER refuse_session BEFORE INSERT ON oidc_models FOR EACH ROW WHEN (NEW.model = 'Session') EXECUTE FUNCTION refuse_session()`,
    );
    try {
      await expect(
        inHold(async () => {
          await adapter('Grant').upsert(grantId, grant(grantId), 3600);
          await adapter('Session').upsert(session.jti!, session, 3600);
        }),
      ).rejects.toThrow(/store broken/);
    } finally {
      await testDb.db.query('DROP TRIGGER refuse_session ON oidc_models');
      await testDb.db.query('DROP FUNCTION refuse_session()');
    }
    expect(await adapter('Grant').find(grantId)).toBeUndefined();
  });

  it('goes with an audit row in one statement, and drops (logs) only the audit row when that one is refused', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('info', sink);
    const audit = createAuditLog({ db: recorded.db, log });
    const grantId = newId();
    expect(
      await statements(() =>
        inHold(async () => {
          await adapter('Grant').upsert(grantId, grant(grantId), 3600);
          await audit.record({ event: 'consent.given', clientId: 'web' });
        }),
      ),
    ).toBe(1);
    const other = newId();
    await testDb.db.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit broken'; END $$`);
    await testDb.db.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
    try {
      await inHold(async () => {
        await adapter('Grant').upsert(other, grant(other), 3600);
        await audit.record({ event: 'consent.given', clientId: 'web' });
      });
    } finally {
      await testDb.db.query('DROP TRIGGER refuse_audit ON audit_events');
      await testDb.db.query('DROP FUNCTION refuse_audit()');
    }
    expect((await adapter('Grant').find(other))?.clientId).toBe('web');
    expect(lines.filter((l) => l.includes('audit.write_failed'))).toHaveLength(1);
  });
});
