import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, testConfig } from '../support/fixtures.js';
import { expectOneLineError, REPO_ROOT, runCli } from './cli_harness.js';

// `gatehouse clients list [--json]`: the config file's clients for an operator, never a secret.
// It reads the file, not the database: DATABASE_URL points where nothing listens.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-clients-list-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function list(config: unknown, args: string[] = []) {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(config));
  return runCli(['clients', 'list', ...args], { env: { ...NO_DATABASE, CONFIG_FILE: file } });
}

describe('gatehouse clients list', () => {
  it('prints a table: id, name, kind, grant types, redirect URIs', async () => {
    const result = await list(testConfig());
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^client_id\s+name\s+kind\s+grant types\s+redirect URIs$/);
    expect(rows).toHaveLength(testConfig().clients.length);
    expect(rows.find((r) => r.startsWith('web '))).toMatch(
      /^web\s+Web App\s+confidential \(client_secret_basic\)\s+authorization_code,refresh_token\s+http:\/\/127\.0\.0\.1:9\/callback$/,
    );
    expect(rows.find((r) => r.startsWith('spa '))).toMatch(
      /^spa\s+Single Page App\s+public\s+authorization_code,refresh_token\s+http:\/\/127\.0\.0\.1:9\/spa\/callback$/,
    );
    expect(rows.find((r) => r.startsWith('service '))).toMatch(/^service\s+Service\s+confidential \(client_secret_basic\)\s+client_credentials\s+-$/);
    for (const secret of Object.values(SECRETS)) expect(result.stdout).not.toContain(secret);
  });

  it('prints JSON with --json, without secrets', async () => {
    const result = await list(testConfig(), ['--json']);
    expect(result.code).toBe(0);
    const clients = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(clients.map((c) => c.client_id)).toEqual(testConfig().clients.map((c) => c.client_id));
    expect(clients[0]).toEqual({
      client_id: 'web',
      client_name: 'Web App',
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1:9/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1:9/signed-out'],
      scope: 'openid profile email offline_access things:read things:write notes:read',
      skip_consent: false,
    });
    for (const secret of Object.values(SECRETS)) expect(result.stdout).not.toContain(secret);
  });

  it('says so when there are no clients', async () => {
    expect(await list({ clients: [] })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^no clients in .*\.json\n$/) as unknown });
    expect(await list({ clients: [] }, ['--json'])).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  it('reads the example file', async () => {
    const file = path.join(REPO_ROOT, 'examples/gatehouse.config.json');
    const { clients } = JSON.parse(await readFile(file, 'utf8')) as { clients: { client_id: string }[] };
    const result = await runCli(['clients', 'list'], { env: { ...NO_DATABASE, CONFIG_FILE: file } });
    expect(result.code).toBe(0);
    // A header line, then one line per client of the file.
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + clients.length);
    for (const { client_id } of clients) expect(lines.some((line) => line.startsWith(`${client_id} `))).toBe(true);
  });

  it('refuses a file with problems in one line', async () => {
    expectOneLineError(
      await list({ clients: [{ client_id: 'x', redirect_uri: [] }] }),
      /is invalid: .*clients\[0\]\.redirect_uri: unknown field; did you mean `redirect_uris`\?/,
    );
  });
});
