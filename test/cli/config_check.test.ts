import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { testConfig } from '../support/fixtures.js';
import { expectOneLineError, REPO_ROOT, runCli } from './cli_harness.js';

// `gatehouse config check [file]`: the server's start-up checks of the config file, with no
// database. Every run here points DATABASE_URL at a port nothing listens on: had the command
// touched the database, it would fail.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };
const EXAMPLE = path.join(REPO_ROOT, 'examples/gatehouse.config.json');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-config-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: unknown): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return target;
}

const check = (args: string[], env: Record<string, string> = {}) => runCli(['config', 'check', ...args], { env: { ...NO_DATABASE, ...env } });

const webClient = (id: string, extra: Record<string, unknown> = {}) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789abcdef0123456789`,
  redirect_uris: [`https://${id}.example.com/callback`],
  ...extra,
});

describe('gatehouse config check', () => {
  it('accepts the example config file', async () => {
    expect(await check([EXAMPLE])).toEqual({ code: 0, stdout: 'ok: 4 clients, 1 APIs\n', stderr: '' });
  });

  it('accepts the configuration the test suite serves', async () => {
    const result = await check([await file('suite.json', testConfig())]);
    expect(result).toEqual({ code: 0, stdout: 'ok: 5 clients, 2 APIs\n', stderr: '' });
  });

  it('checks $CONFIG_FILE when no file is named', async () => {
    expect(await check([], { CONFIG_FILE: EXAMPLE })).toEqual({ code: 0, stdout: 'ok: 4 clients, 1 APIs\n', stderr: '' });
  });

  it('prints every schema problem on its own line with its path, and exits 1', async () => {
    const target = await file('problems.json', {
      clients: [
        webClient('one'),
        webClient('two', { grant_types: ['authorization_code', 'password'] }),
        webClient('three', { redirect_uris: ['https://three.example.com/cb', '/callback'] }),
      ],
      extra: true,
    });
    const result = await check([target]);
    expectOneLineError(result, new RegExp(`^gatehouse: ${target}: 3 problems$`));
    expect(result.stdout.trimEnd().split('\n').sort()).toEqual(
      [
        'extra: unknown field',
        'clients[1].grant_types[1]: must be one of "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"',
        'clients[2].redirect_uris[1]: must be an absolute URL',
      ].sort(),
    );
  });

  it('prints the problems that span fields (scopes, secrets, duplicates) the same way', async () => {
    const target = await file('cross_field.json', {
      clients: [
        webClient('one'),
        webClient('one'),
        webClient('three', { scope: 'openid unknown:scope' }),
        { client_id: 'public', token_endpoint_auth_method: 'none', client_secret: 'not-for-a-public-client', redirect_uris: ['https://p.example.com/cb'] },
      ],
      apis: [{ identifier: 'https://api.example.com', name: 'API', scopes: ['openid'] }],
    });
    const result = await check([target]);
    expectOneLineError(result, new RegExp(`^gatehouse: ${target}: 4 problems$`));
    expect(result.stdout.trimEnd().split('\n').sort()).toEqual(
      [
        'apis[0].scopes[0]: "openid" is a standard OpenID scope, not an API scope',
        'clients[1].client_id: duplicate client_id "one"',
        'clients[2].scope: unknown scope "unknown:scope" (not a standard scope, an identity resource, nor owned by any API)',
        'clients[3].client_secret: a public client (token_endpoint_auth_method "none") must not have a secret',
      ].sort(),
    );
  });

  it('refuses require_pkce: false for a public client, and anything but a boolean', async () => {
    const target = await file('pkce.json', {
      clients: [
        webClient('legacy', { require_pkce: false }),
        webClient('strict', { require_pkce: true }),
        { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example.com/cb'], require_pkce: false },
      ],
    });
    const result = await check([target]);
    expectOneLineError(result, /: 1 problem$/);
    expect(result.stdout).toBe(
      'clients[2].require_pkce: a public client (token_endpoint_auth_method "none") must use PKCE; only a confidential client may set false\n',
    );

    const typo = await check([await file('pkce_typo.json', { clients: [webClient('typo', { require_pkce: 'no' })] })]);
    expectOneLineError(typo, /: 1 problem$/);
    expect(typo.stdout).toBe('clients[0].require_pkce: must be true or false\n');

    const legacyOnly = await file('pkce_ok.json', { clients: [webClient('legacy', { require_pkce: false })] });
    expect(await check([legacyOnly])).toEqual({ code: 0, stdout: 'ok: 1 clients, 0 APIs\n', stderr: '' });
  });

  it("reports what oidc-provider's own client validation refuses, by client", async () => {
    const target = await file('provider.json', {
      clients: [
        webClient('fine'),
        webClient('custom-scheme', { post_logout_redirect_uris: ['com.example.app:/signed-out'] }),
        {
          client_id: 'native',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['https://localhost/callback'],
        },
      ],
    });
    const result = await check([target]);
    expectOneLineError(result, /: 2 problems$/);
    expect(result.stdout).toBe(
      'clients[1].post_logout_redirect_uris[0]: must be an http(s) URL for a web client; a custom scheme (com.example.app:/callback) needs "application_type": "native"\n' +
        'clients[2].redirect_uris[0]: for native clients using claimed HTTPS URIs must not be using localhost as hostname\n',
    );
  });

  it('reads YAML files too', async () => {
    const good = await file('gatehouse.config.yaml', YAML.stringify(testConfig()));
    expect(await check([good])).toEqual({ code: 0, stdout: 'ok: 5 clients, 2 APIs\n', stderr: '' });

    const bad = await file('bad.yml', YAML.stringify({ clients: [webClient('one'), webClient('two', { redirect_uris: ['not-a-url'] })] }));
    const result = await check([bad]);
    expectOneLineError(result, /bad\.yml: 1 problem$/);
    expect(result.stdout).toBe('clients[1].redirect_uris[0]: must be an absolute URL\n');
  });

  it('reports a file that is not valid JSON in one line', async () => {
    const target = await file('broken.json', '{ "clients": [ }');
    const result = await check([target]);
    expectOneLineError(result, new RegExp(`^gatehouse: ${target}: .*JSON`));
    expect(result.stdout).toBe('');
  });

  it('reports a YAML syntax error in one line', async () => {
    const target = await file('broken.yaml', 'clients:\n  - client_id: "unterminated\n');
    const result = await check([target]);
    expectOneLineError(result, new RegExp(`^gatehouse: ${target}: `));
    expect(result.stdout).toBe('');
  });

  it('takes ${NAME} in a value from the environment, and reports an unset variable with its path', async () => {
    const target = await file('env.json', {
      clients: [webClient('web', { client_secret: '${WEB_SECRET}', redirect_uris: ['https://${WEB_HOST}/callback'] })],
    });
    const secret = 'from-the-environment-0123456789abcdef';
    expect(await check([target], { WEB_SECRET: secret, WEB_HOST: 'web.example.com' })).toEqual({ code: 0, stdout: 'ok: 1 clients, 0 APIs\n', stderr: '' });

    const missing = await check([target], { WEB_HOST: 'web.example.com' });
    expectOneLineError(missing, /: 1 problem$/);
    expect(missing.stdout).toBe('clients[0].client_secret: environment variable WEB_SECRET is not set\n');

    const neither = await check([target]);
    expect(neither.stdout).toBe(
      'clients[0].client_secret: environment variable WEB_SECRET is not set\n' + 'clients[0].redirect_uris[0]: environment variable WEB_HOST is not set\n',
    );
  });

  it('warns about a client secret shorter than 32 characters, without printing it, and still exits 0', async () => {
    const target = await file('short_secret.json', {
      clients: [webClient('long'), webClient('short', { client_secret: 'tiny-secret-123' }), webClient('env', { client_secret: '${ENV_SECRET}' })],
    });
    const result = await check([target], { ENV_SECRET: 'also-short-0123' });
    expect(result).toEqual({
      code: 0,
      stdout:
        'warning: clients[1].client_secret: shorter than 32 characters; use a long random secret (e.g. openssl rand -base64 32)\n' +
        'warning: clients[2].client_secret: shorter than 32 characters; use a long random secret (e.g. openssl rand -base64 32)\n' +
        'ok: 3 clients, 0 APIs\n',
      stderr: '',
    });
    expect(result.stdout).not.toContain('tiny-secret-123');
    expect(result.stdout).not.toContain('also-short-0123');
  });

  it('reports a missing file in one line', async () => {
    const result = await check([path.join(dir, 'nope.json')]);
    expectOneLineError(result, /nope\.json: not found$/);
    expect(result.stdout).toBe('');
  });
});
