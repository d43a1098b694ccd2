import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { createTestDb, type Backend, type TestDb } from '../support/test_db.js';
import { availableBackends } from '../support/storage_backends.js';
import { RP, testConfig } from '../support/fixtures.js';
import { discover } from '../support/relying_party.js';
import { expectPage, pageKind, startAuthorization } from '../support/hosted_pages.js';
import { spawnGatehouse, type LogLine } from '../support/spawn_gatehouse.js';

// #13, point 5: a SIGHUP reload picks up a new identity resource, and a client listing it in
// the same file (checked against a provider that knows the new scope, not the serving one):
// discovery lists it and the client may ask for it, without a restart.

const HR = { client_id: 'hr', client_secret: 'hr-secret-0123456789abcdef0123456789ab', redirect_uris: [`${RP}/hr/callback`] };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const event = (name: string) => (line: LogLine) => line.event === name;

describe.each(availableBackends())('a SIGHUP reload on %s', (backend: Backend) => {
  it('serves an identity resource added to the config file', { timeout: 90_000 }, async () => {
    const testDb: TestDb = await createTestDb(backend, { open: false });
    cleanups.push(() => testDb.drop());
    const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
    const base = testConfig();
    await writeFile(configFile, JSON.stringify(gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, { ...HR, scope: 'openid' }] })));
    const env = { CONFIG_FILE: configFile, ...(backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl } : { DATA_DIR: testDb.dataDir }) };
    const server = await spawnGatehouse({ env });
    cleanups.push(() => server.kill());
    const discovery = async () => (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect((await discovery()).scopes_supported).not.toContain('employee');

    const next = gatehouseConfigSchema.parse({
      ...base,
      identity_resources: [{ name: 'employee', display_name: 'Employee details', claims: ['department', 'roles'] }],
      clients: [...base.clients, { ...HR, scope: 'openid employee' }],
    });
    await writeFile(`${configFile}.next`, JSON.stringify(next));
    await rename(`${configFile}.next`, configFile);
    server.child.kill('SIGHUP');
    await server.waitForLogs(event('config.reloaded'), 1, 'the config to be reloaded');
    expect(server.count(event('config.reload_failed'))).toBe(0);

    const metadata = await discovery();
    expect(metadata.scopes_supported).toContain('employee');
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['department', 'roles']));
    // The client may now ask for the scope: the login page, not an invalid_scope redirect.
    const rp = await discover(server.issuer, HR.client_id, HR.client_secret);
    const { landing } = await startAuthorization(rp, { scope: 'openid employee', redirectUri: HR.redirect_uris[0] });
    expect(pageKind(expectPage(landing))).toBe('login');
  });
});
