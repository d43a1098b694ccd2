import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { API, testConfig } from '../support/fixtures.js';
import { tokenRequest } from '../support/oauth_requests.js';

// Issue #12: start-up builds the serving provider once. It used to build one, then build it again
// when start-up applied the very config it had just been built with. A reload (SIGHUP) with an
// unchanged file keeps the provider; a changed file still gets a fresh one, serving the change.

const NEWCOMER = { clientId: 'newcomer', secret: 'newcomer-secret-0123456789abcdef012345678' };

let gh: RunningGatehouse;
beforeAll(async () => {
  // provider.built is a debug line: one per provider the host builds and serves.
  gh = await startGatehouse({ env: { LOG_LEVEL: 'debug' } });
});
afterAll(async () => {
  await gh.close();
});

const builds = () => gh.logs.filter((line) => line.event === 'provider.built');
const newcomerToken = () => tokenRequest(gh.issuer, NEWCOMER, { grant_type: 'client_credentials', scope: 'things:read', resource: API });

describe('building the serving provider', () => {
  it('happens once at start', () => {
    expect(builds()).toHaveLength(1);
  });

  it('does not happen again for the config already served', async () => {
    const serving = gh.provider;
    await gh.gatehouse.applyConfig(testConfig());
    expect(builds()).toHaveLength(1);
    expect(gh.provider).toBe(serving);
  });

  it('happens for a changed config, which is then served', async () => {
    expect((await newcomerToken()).status).toBe(401);
    const base = testConfig();
    const newcomer = { client_id: NEWCOMER.clientId, client_secret: NEWCOMER.secret, grant_types: ['client_credentials'], scope: 'things:read' };
    // A new API as well: the new scopes need the rebuilt provider, not only the synced client row.
    const apis = [
      ...base.apis,
      { identifier: 'https://extra.example.test', name: 'Extra', scopes: ['extra:read'], access_token_format: 'jwt', access_token_ttl: 60 },
    ];
    await gh.gatehouse.applyConfig(
      gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, { ...newcomer, scope: 'things:read extra:read' }], apis }),
    );
    expect(builds()).toHaveLength(2);
    expect((await newcomerToken()).status).toBe(200);
    const extra = await tokenRequest(gh.issuer, NEWCOMER, { grant_type: 'client_credentials', scope: 'extra:read', resource: 'https://extra.example.test' });
    expect(extra.status).toBe(200);
  });
});
