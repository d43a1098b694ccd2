import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { configWarnings } from '../../src/config/config_warnings.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { testConfig } from '../support/fixtures.js';

// A config file that is valid but unwise (a short client secret): served, and said so in the
// server's log at start and at every reload — by path, never with the secret.

const SHORT = 'short-secret-1234';

function configWithShortSecret() {
  const base = testConfig();
  return gatehouseConfigSchema.parse({
    clients: [...base.clients, { client_id: 'weak', client_secret: SHORT, grant_types: ['client_credentials'], scope: 'things:read' }],
    apis: base.apis,
  });
}

describe('configWarnings', () => {
  it('names every client secret under 32 characters by its path, and nothing else', () => {
    const config = configWithShortSecret();
    expect(configWarnings(config)).toEqual([
      { path: `clients[${config.clients.length - 1}].client_secret`, message: expect.stringMatching(/^shorter than 32 characters/) },
    ]);
    expect(configWarnings(testConfig())).toEqual([]);
  });

  it('counts a secret of exactly 32 characters as long enough', () => {
    const config = gatehouseConfigSchema.parse({ clients: [{ client_id: 'job', client_secret: 'x'.repeat(32), grant_types: ['client_credentials'] }] });
    expect(configWarnings(config)).toEqual([]);
  });
});

describe('the server', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ config: configWithShortSecret() });
  });
  afterAll(() => gh?.close());

  const warnings = () => gh.logs.filter((l) => l.event === 'config.warning');

  it('logs a warning with the path at start, at level warn, without the secret', () => {
    expect(warnings()).toEqual([
      expect.objectContaining({ level: 40, path: 'clients[5].client_secret', problem: expect.stringMatching(/^shorter than 32 characters/) }),
    ]);
    expect(gh.rawLogs()).not.toContain(SHORT);
  });

  it('logs it again when the config is reloaded, and not once the secret is long', async () => {
    await gh.gatehouse.applyConfig(configWithShortSecret());
    expect(warnings()).toHaveLength(2);
    await gh.gatehouse.applyConfig(testConfig());
    expect(warnings()).toHaveLength(2);
    expect(gh.rawLogs()).not.toContain(SHORT);
  });
});
