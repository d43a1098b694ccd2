import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { SECRETS, testConfig } from '../support/fixtures.js';
import { tokenRequest, type ClientCredentials } from '../support/oauth_requests.js';

// A client's metadata is reused between requests (provider/client_instances.ts keeps the Client
// built from it; the adapter keeps the row). Changed at another instance on the same database,
// it must take effect here too: the old secret refused, the new one accepted, and no request
// afterwards served the old way. With a listener (PostgreSQL) the change is announced; without
// one (PGlite, a transaction pooler) the kept row is read again within 5 s.

const NEW_SECRET = 'a-new-secret-for-the-service-client-0123456789';
const oldCredentials = { clientId: 'service', secret: SECRETS.service };
const newCredentials = { clientId: 'service', secret: NEW_SECRET };
/** Generous: the adapter's client cache is read again after at most 5 s without a listener. */
const PROPAGATION_LIMIT_MS = 10_000;
const AFTERWARDS = 20;
// Every refused request counts as a failed client authentication: the lockout (which would
// answer 429 to the right secret too) is kept out of the way.
const env = { CLIENT_AUTH_MAX_FAILURES: '1000' };

let a: RunningGatehouse;
let b: RunningGatehouse;

beforeAll(async () => {
  a = await startGatehouse({ env });
  b = await startGatehouse({ testDb: a.testDb, env });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const grant = (gh: RunningGatehouse, credentials: ClientCredentials) =>
  tokenRequest(gh.issuer, credentials, { grant_type: 'client_credentials', scope: 'things:read' });

it('refuses a client’s old secret at B once A changed it, and accepts the new one', async () => {
  // B has built and kept the client.
  for (let i = 0; i < 3; i++) expect((await grant(b, oldCredentials)).status).toBe(200);

  const changed = testConfig();
  const service = changed.clients.find((c) => c.client_id === 'service')!;
  service.client_secret = NEW_SECRET;
  await a.gatehouse.applyConfig(changed);
  // A itself: at once.
  expect((await grant(a, oldCredentials)).status).toBe(401);
  expect((await grant(a, newCredentials)).status).toBe(200);

  const start = Date.now();
  while ((await grant(b, oldCredentials)).status === 200) {
    expect(Date.now() - start, 'B still accepts the old secret').toBeLessThan(PROPAGATION_LIMIT_MS);
  }
  for (let i = 0; i < AFTERWARDS; i++) {
    expect((await grant(b, oldCredentials)).status, `old secret, request ${i + 1} after the first refusal`).toBe(401);
    expect((await grant(b, newCredentials)).status, `new secret, request ${i + 1} after the first refusal`).toBe(200);
  }
});
