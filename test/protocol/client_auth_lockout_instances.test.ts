import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { SECRETS } from '../support/fixtures.js';
import { tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { createClientAuthThrottle } from '../../src/throttling/client_auth_throttle.js';
import { loadThrottleKeys } from '../../src/throttling/throttle_keys.js';

// A client locked by failures counted at another instance (or another cluster worker) on the
// same database: this instance does not read the shared count on every request of a client
// that has not failed here (client_auth_throttle.ts), but it honours the lockout within about a
// second, and at once after a failure of its own for that client.

const DEFAULTS = { maxFailures: 10, windowSeconds: 300 };
const service = { clientId: 'service', secret: SECRETS.service };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };

const clientCredentials = (issuer: string, client: { clientId: string; secret: string }, scope: string) =>
  tokenRequest(issuer, client, { grant_type: 'client_credentials', scope });

describe('a lockout started at another instance', () => {
  let gh: RunningGatehouse;
  /** the count as another instance keeps it: same table, its own process memory */
  let elsewhere: ReturnType<typeof createClientAuthThrottle>;
  beforeAll(async () => {
    gh = await startGatehouse();
    elsewhere = createClientAuthThrottle(gh.testDb.db, await loadThrottleKeys(gh.testDb.db), DEFAULTS);
  });
  afterAll(() => gh?.close());

  async function lockElsewhere(clientId: string): Promise<void> {
    let started = 0;
    for (let i = 0; i < DEFAULTS.maxFailures; i++) started = await elsewhere.failed(clientId, '127.0.0.1'); // where this test's requests come from
    expect(started).toBe(DEFAULTS.windowSeconds);
  }

  it('refuses the right secret here too, without a failure here', async () => {
    // This instance has just seen the client succeed.
    expect((await clientCredentials(gh.issuer, service, 'things:read')).status).toBe(200);
    await lockElsewhere('service');
    const refused = await eventually(
      async () => {
        const res = await clientCredentials(gh.issuer, service, 'things:read');
        return res.status === 429 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'the lockout to be honoured' },
    );
    expect(refused.body.error).toBe('invalid_client');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('honours it at once after a failure of its own', async () => {
    expect((await clientCredentials(gh.issuer, introspector, 'notes:read')).status).toBe(200);
    await lockElsewhere('introspector');
    // Admitted (and counted) if this instance's "not locked" is still fresh; refused otherwise.
    const guess = await clientCredentials(gh.issuer, { clientId: 'introspector', secret: 'not-the-secret-0123456789abcdef0123' }, 'notes:read');
    expect([401, 429]).toContain(guess.status);
    const right = await clientCredentials(gh.issuer, introspector, 'notes:read');
    expect(right.status).toBe(429);
    expect(right.body.error).toBe('invalid_client');
  });
});
