import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as oidcClient from 'openid-client';
import type { Db } from '../../src/db/db.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import { createPostgresAdapter } from '../../src/storage/postgres_adapter.js';
import { hashId } from '../../src/storage/storage_key.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, OPAQUE_API, SECRETS } from '../support/fixtures.js';
import { authorize, discover, oidc, signIn } from '../support/relying_party.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { availableBackends, createEmptyDb } from '../support/storage_backends.js';
import type { TestDb } from '../support/test_db.js';

// Secrets at rest: a copy of the database must not hold a usable token, code, session cookie
// or interaction id. Every table is dumped as text and searched for each bearer value the
// tests saw go over the wire.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };

async function dumpEveryTable(db: Db): Promise<string> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    parts.push(...rows.map((r) => `${table_name}: ${r.row}`));
  }
  return parts.join('\n');
}

describe('bearer values are stored only as hashes', () => {
  let gh: RunningGatehouse;
  let rp: oidcClient.Configuration;
  beforeAll(async () => {
    gh = await startGatehouse();
    await gh.createUser(ALICE);
    rp = await discover(gh.issuer, 'web', SECRETS.web);
  });
  afterAll(() => gh?.close());

  it('keeps no token, code, session cookie or interaction id in any table, and they all still work', async () => {
    const secrets = new Map<string, string>();

    const started = await authorize(rp, {
      scope: 'openid profile email offline_access',
      params: { prompt: 'consent' },
      credentials: alice,
      consent: 'allow',
    });
    const code = started.callback.searchParams.get('code')!;
    secrets.set('authorization code', code);
    const cookies = await started.ua.jar.getCookies(gh.issuer);
    for (const cookie of cookies) secrets.set(`cookie ${cookie.key}`, cookie.value);
    expect(cookies.map((c) => c.key)).toContain('_session');

    const tokens = await oidc.authorizationCodeGrant(rp, started.callback, {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    secrets.set('access token', tokens.access_token);
    secrets.set('refresh token', tokens.refresh_token!);

    const service = await tokenRequest(
      gh.issuer,
      { clientId: 'service', secret: SECRETS.service },
      {
        grant_type: 'client_credentials',
        scope: 'notes:read',
        resource: OPAQUE_API,
      },
    );
    expect(service.status).toBe(200);
    secrets.set('client credentials token', service.body.access_token as string);

    // An interaction that is still open: its id is what the cookie and the URL carry.
    const open = await fetch(
      oidc.buildAuthorizationUrl(rp, {
        redirect_uri: 'http://127.0.0.1:9/callback',
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        prompt: 'login',
      }),
      { redirect: 'manual' },
    );
    const interactionUrl = open.headers.get('location')!;
    const uid = interactionUrl.split('/interaction/')[1]!.split(/[/?]/)[0]!;
    secrets.set('interaction uid', uid);

    const dump = await dumpEveryTable(gh.testDb.db);
    expect(dump.length).toBeGreaterThan(1000);
    for (const [what, value] of secrets) {
      expect(value.length, what).toBeGreaterThanOrEqual(20);
      expect(
        dump.split('\n').filter((line) => line.includes(value)),
        `${what} found in the database`,
      ).toEqual([]);
    }
    // What is stored instead: their hashes, as keys.
    expect(dump.includes(hashId(tokens.refresh_token!))).toBe(true);
    expect(dump.includes(hashId(uid))).toBe(true);

    // The values still work: they are found by their hash.
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(200);
    expect((await introspect(gh.issuer, web, tokens.access_token)).body.active).toBe(true);
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    const again = await signIn(rp, { ua: started.ua, scope: 'openid' });
    expect(again.seen.login).toBe(0);
    const replayed = await tokenRequest(gh.issuer, web, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'http://127.0.0.1:9/callback',
      code_verifier: started.codeVerifier,
    });
    expect(replayed.body.error).toBe('invalid_grant');
  });
});

describe.each(availableBackends())('upgrading stored rows to hashed keys on %s', (backend) => {
  let testDb: TestDb;
  let before: string;
  beforeAll(async () => {
    testDb = await createEmptyDb(backend);
    before = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    for (const m of await listMigrations()) if (m.version < '0004') await copyFile(m.file, path.join(before, path.basename(m.file)));
  });
  afterAll(async () => {
    await testDb?.drop();
    await rm(before, { recursive: true, force: true });
  });

  it('re-keys existing sessions, tokens and interactions so they are still found by their value', async () => {
    await migrate(testDb.db, before);
    const exp = Math.floor(Date.now() / 1000) + 600;
    const rows = [
      ['Session', 'session-cookie-value-0123456789', { jti: 'session-cookie-value-0123456789', uid: 'session-uid', accountId: 'a', exp }],
      ['RefreshToken', 'refresh-token-value-0123456789', { jti: 'refresh-token-value-0123456789', grantId: 'g1', exp }],
      [
        'Interaction',
        'interaction-uid-value-01234567',
        {
          jti: 'interaction-uid-value-01234567',
          returnTo: 'http://localhost:3000/auth/interaction-uid-value-01234567',
          session: { uid: 'session-uid', cookie: 'session-cookie-value-0123456789', accountId: 'a' },
          exp,
        },
      ],
      ['Grant', 'g1', { jti: 'g1', accountId: 'a', clientId: 'web', exp }],
    ] as const;
    for (const [model, id, payload] of rows) {
      await testDb.db.query(`INSERT INTO oidc_models (model, id, payload, grant_id, uid, expires_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6))`, [
        model,
        id,
        payload,
        model === 'RefreshToken' ? 'g1' : null,
        model === 'Session' ? 'session-uid' : null,
        exp,
      ]);
    }

    expect(await migrate(testDb.db)).toContain('0004');

    const Adapter = createPostgresAdapter(testDb.db);
    for (const [model, id, payload] of rows) {
      const found = await new Adapter(model).find(id);
      const { cookie: _cookie, ...session } = ('session' in payload ? payload.session : {}) as Record<string, unknown>;
      expect(found, model).toEqual('session' in payload ? { ...payload, session } : payload);
    }
    const dump = await dumpEveryTable(testDb.db);
    for (const [model, id] of rows) if (model !== 'Grant') expect(dump.includes(id), model).toBe(false);
    expect(dump.includes('session-cookie-value-0123456789')).toBe(false);
  });
});
