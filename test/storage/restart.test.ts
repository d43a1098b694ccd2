import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { startGatehouse } from '../support/start_gatehouse.js';
import { ALICE, API, SECRETS, testConfig } from '../support/fixtures.js';
import { authorize, discover, signIn } from '../support/relying_party.js';
import { endpoints, tokenRequest } from '../support/oauth_requests.js';
import { availableBackends, reopenTestDb } from '../support/storage_backends.js';

// Everything that matters survives a restart on the same database (keys, users, sessions),
// the clients table follows the config file on every start, and the JWKS is public keys only.

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function jwks(issuer: string): Promise<{ keys: Record<string, unknown>[] }> {
  const res = await fetch((await endpoints(issuer)).jwks);
  expect(res.status).toBe(200);
  return (await res.json()) as { keys: Record<string, unknown>[] };
}

describe.each(availableBackends())('restart on %s', (backend) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb(backend);
  });
  afterAll(() => testDb?.drop());

  it('keeps signing keys, earlier tokens, users and sessions across a restart', async () => {
    const first = await startGatehouse({ testDb });
    const aliceSub = (await first.createUser(ALICE)).sub;
    const kids = (await jwks(first.issuer)).keys.map((k) => k.kid).sort();
    expect(kids.length).toBeGreaterThanOrEqual(2);
    const issued = await tokenRequest(
      first.issuer,
      { clientId: 'service', secret: SECRETS.service },
      { grant_type: 'client_credentials', scope: 'things:read' },
    );
    expect(issued.status).toBe(200);
    const { ua } = await signIn(await discover(first.issuer, 'web', SECRETS.web), {
      scope: 'openid profile',
      credentials: { login: ALICE.username, password: ALICE.password },
      consent: 'allow',
    });
    await first.close();

    testDb = await reopenTestDb(testDb);
    const second = await startGatehouse({ testDb });
    try {
      expect((await jwks(second.issuer)).keys.map((k) => k.kid).sort()).toEqual(kids);

      // A token from before the restart verifies against the keys served after it.
      const remoteKeys = createRemoteJWKSet(new URL((await endpoints(second.issuer)).jwks));
      const { payload } = await jwtVerify(issued.body.access_token as string, remoteKeys, { issuer: first.issuer, audience: API, typ: 'at+jwt' });
      expect(payload.client_id).toBe('service');

      const { rows } = await testDb.db.query<{ sub: string }>(`SELECT sub FROM users WHERE username = $1`, [ALICE.username]);
      expect(rows).toEqual([{ sub: aliceSub }]);

      // The browser's session cookie (signed with the stored cookie key) still signs Alice in:
      // no login page this time. Cookies are not port-bound, so the same jar reaches the new port.
      const sessions = await testDb.db.query(`SELECT 1 FROM oidc_models WHERE model = 'Session'`);
      expect(sessions.rowCount).toBeGreaterThan(0);
      const again = await authorize(await discover(second.issuer, 'web', SECRETS.web), { ua, scope: 'openid profile', consent: 'allow' });
      expect(again.seen.login).toBe(0);
      expect(again.callback.searchParams.get('code')).toBeTypeOf('string');
    } finally {
      await second.close();
    }
  });

  it('serves public keys only at the JWKS endpoint', async () => {
    const gh = await startGatehouse({ testDb });
    try {
      const { keys } = await jwks(gh.issuer);
      expect(keys.map((k) => k.alg).sort()).toEqual(expect.arrayContaining(['ES256', 'RS256']));
      for (const key of keys) {
        expect(['RSA', 'EC']).toContain(key.kty);
        expect(key.kid).toBeTypeOf('string');
        for (const member of PRIVATE_JWK_MEMBERS) expect(key, `${String(key.kid)} has "${member}"`).not.toHaveProperty(member);
      }
      const { rows } = await testDb.db.query<{ kid: string }>(`SELECT kid FROM keys WHERE kind = 'signing'`);
      expect(keys.map((k) => k.kid).sort()).toEqual(rows.map((r) => r.kid).sort());
    } finally {
      await gh.close();
    }
  });
});

describe.each(availableBackends())('config sync on %s', (backend) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb(backend);
  });
  afterAll(() => testDb?.drop());

  it('makes the clients table match the config file on each start', async () => {
    const NEW_SECRET = 'introspector-rotated-secret-0123456789ab';
    const base = testConfig();
    const first = await startGatehouse({ testDb, config: base });
    const serviceCreds = { clientId: 'service', secret: SECRETS.service };
    expect((await tokenRequest(first.issuer, serviceCreds, { grant_type: 'client_credentials', scope: 'things:read' })).status).toBe(200);
    await first.close();

    // `service` removed, `introspector` given a new secret.
    const changed = gatehouseConfigSchema.parse({
      ...base,
      clients: base.clients.filter((c) => c.client_id !== 'service').map((c) => (c.client_id === 'introspector' ? { ...c, client_secret: NEW_SECRET } : c)),
    });
    const second = await startGatehouse({ testDb, config: changed });
    try {
      const { rows } = await testDb.db.query<{ client_id: string; metadata: { client_secret?: string } }>(
        `SELECT client_id, metadata FROM clients ORDER BY client_id`,
      );
      // The file's clients, and the account page's built-in one (account_client.ts).
      expect(rows.map((r) => r.client_id)).toEqual([...changed.clients.map((c) => c.client_id), 'gatehouse-account'].sort());
      expect(rows.find((r) => r.client_id === 'introspector')?.metadata.client_secret).toBe(NEW_SECRET);

      const removed = await tokenRequest(second.issuer, serviceCreds, { grant_type: 'client_credentials', scope: 'things:read' });
      expect(removed.status).toBe(401);
      expect(removed.body.error).toBe('invalid_client');

      const oldSecret = await tokenRequest(
        second.issuer,
        { clientId: 'introspector', secret: SECRETS.introspector },
        { grant_type: 'client_credentials', scope: 'notes:read' },
      );
      expect(oldSecret.status).toBe(401);
      expect(oldSecret.body.error).toBe('invalid_client');
      const newSecret = await tokenRequest(
        second.issuer,
        { clientId: 'introspector', secret: NEW_SECRET },
        { grant_type: 'client_credentials', scope: 'notes:read' },
      );
      expect(newSecret.status).toBe(200);
    } finally {
      await second.close();
    }
  });
});
