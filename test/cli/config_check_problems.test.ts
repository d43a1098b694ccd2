import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli, type CliResult } from './cli_harness.js';

// Issue #18, part 5: `gatehouse config check` says what a developer needs to fix a file, in
// one run: each refused redirect URI with its own reason, unknown fields with the nearest known
// one, oidc-provider's client rules at their paths, and never the validator's own wording.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };
const SECRET = 'web-secret-0123456789abcdef0123456789';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-config-problems-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function check(content: unknown, env: Record<string, string> = {}): Promise<CliResult> {
  const target = path.join(dir, `config-${++files}.json`);
  await writeFile(target, JSON.stringify(content, null, 2));
  return runCli(['config', 'check', target], { env: { ...NO_DATABASE, ...env } });
}

const web = (extra: Record<string, unknown> = {}) => ({ client_id: 'web', client_secret: SECRET, redirect_uris: ['https://web.example.com/cb'], ...extra });
const withRedirect = (uri: string) => ({ clients: [web({ redirect_uris: ['https://web.example.com/cb', uri] })] });

/** Everything a run printed, for the checks that no library wording leaks. */
const outputs: string[] = [];
async function refused(content: unknown, env?: Record<string, string>): Promise<string[]> {
  const result = await check(content, env);
  outputs.push(result.stdout, result.stderr);
  expectOneLineError(result, /: \d+ problems?$/);
  return result.stdout.trimEnd().split('\n');
}

describe('config check: redirect URIs', () => {
  it('refuses a trailing space, which would never match', async () => {
    expect(await refused(withRedirect('https://web.example.com/other '))).toEqual([
      'clients[0].redirect_uris[1]: has a space or line break at the start or end (the URI would never match)',
    ]);
  });

  it('refuses whitespace inside a URI', async () => {
    expect(await refused(withRedirect('https://web.example.com/my callback'))).toEqual(['clients[0].redirect_uris[1]: must not contain whitespace']);
  });

  it('refuses a wildcard, saying URIs are compared exactly', async () => {
    expect(await refused(withRedirect('https://*.example.com/cb'))).toEqual([
      'clients[0].redirect_uris[1]: must not contain a wildcard (*): list every URI exactly, they are compared as exact strings',
    ]);
    expect(await refused(withRedirect('https://web.example.com/*'))).toEqual([
      'clients[0].redirect_uris[1]: must not contain a wildcard (*): list every URI exactly, they are compared as exact strings',
    ]);
  });

  it('refuses a fragment as a fragment, not as "not absolute"', async () => {
    expect(await refused(withRedirect('https://web.example.com/cb#done'))).toEqual(['clients[0].redirect_uris[1]: must not contain a fragment (#…)']);
  });

  it('refuses http:/host, which a URL parser silently reads as http://host/', async () => {
    expect(await refused(withRedirect('http:/web.example.com/cb'))).toEqual([
      'clients[0].redirect_uris[1]: is malformed: write http://host/path (two slashes before the host)',
    ]);
    expect(await refused(withRedirect('https:web.example.com/cb'))).toEqual([
      'clients[0].redirect_uris[1]: is malformed: write https://host/path (two slashes before the host)',
    ]);
  });

  it('refuses a relative URI as not absolute', async () => {
    expect(await refused(withRedirect('/callback'))).toEqual(['clients[0].redirect_uris[1]: must be an absolute URL']);
  });

  it('checks post-logout redirect URIs the same way', async () => {
    expect(await refused({ clients: [web({ post_logout_redirect_uris: ['https://web.example.com/* '] })] })).toEqual([
      'clients[0].post_logout_redirect_uris[0]: has a space or line break at the start or end (the URI would never match)',
    ]);
  });

  it('warns about plain http to a public host, not to loopback, and still exits 0', async () => {
    const result = await check({
      clients: [
        web({
          redirect_uris: ['http://web.example.com/cb', 'http://127.0.0.1:8080/cb', 'http://localhost:3001/cb', 'http://[::1]/cb', 'https://web.example.com/cb'],
          post_logout_redirect_uris: ['http://web.example.com/'],
        }),
      ],
    });
    expect(result).toEqual({
      code: 0,
      stdout:
        'warning: clients[0].redirect_uris[0]: plain http to a host other than this machine (loopback): codes and tokens would cross the network unencrypted; use https\n' +
        'warning: clients[0].post_logout_redirect_uris[0]: plain http to a host other than this machine (loopback): codes and tokens would cross the network unencrypted; use https\n' +
        'ok: 1 clients, 0 APIs\n',
      stderr: '',
    });
  });
});

describe('config check: unknown fields', () => {
  it('names an unknown field at its path and suggests the nearest known one', async () => {
    const { redirect_uris, ...rest } = web();
    expect(await refused({ clients: [{ ...rest, redirect_uri: redirect_uris }] })).toEqual([
      'clients[0].redirect_uri: unknown field; did you mean `redirect_uris`?',
      'clients[0].redirect_uris: must list at least one URI for the authorization_code grant',
    ]);
  });

  it('suggests for every level of the file, and nothing when no field is near', async () => {
    expect(
      await refused({
        client: [],
        clients: [web({ grant_type: ['authorization_code'], colour: 'blue' })],
        apis: [{ identifier: 'https://api.example.com', name: 'API', scope: ['x:read'] }],
        upstreams: [{ id: 'corp', name: 'Corp', issuer: 'https://sso.example.com', client_id: 'gh', client_secet: 'x' }],
      }),
    ).toEqual([
      'apis[0].scope: unknown field; did you mean `scopes`?',
      'apis[0].scopes: is required',
      'client: unknown field; did you mean `clients`?',
      'clients[0].colour: unknown field',
      'clients[0].grant_type: unknown field; did you mean `grant_types`?',
      'upstreams[0].client_secet: unknown field; did you mean `client_secret`?',
    ]);
  });
});

describe('config check: every problem in one run', () => {
  it('reports five different problems of one file together, each with its path, and exits 1', async () => {
    const result = await check({
      clients: [
        web({ redirect_uris: ['https://web.example.com/cb '] }),
        // a rule between fields (application_type and the URI)
        { client_id: 'app', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://app.example.com/cb'] },
        web({ client_id: 'reports', scope: 'openid unknown:read' }),
      ],
      apis: [{ identifier: 'https://api.example.com', name: 'API', scopes: ['x:read'], access_token_ttl: 'an hour' }],
      unknown_section: true,
    });
    outputs.push(result.stdout, result.stderr);
    expectOneLineError(result, /: 5 problems$/);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'apis[0].access_token_ttl: must be a number',
      'clients[0].redirect_uris[0]: has a space or line break at the start or end (the URI would never match)',
      'clients[1].redirect_uris[0]: a native app may use http only on a loopback address (http://127.0.0.1/… or http://[::1]/…, any port)',
      'clients[2].scope: unknown scope "unknown:read" (not a standard scope, an identity resource, nor owned by any API)',
      'unknown_section: unknown field',
    ]);
  });

  it('checks the fine parts of an entry that has a problem: the library rules of a client with a bad field', async () => {
    expect(
      await refused({
        clients: [web({ redirect_uris: ['com.example.app:/cb', 'https://web.example.com/cb#x'], require_pkce: 'yes' })],
      }),
    ).toEqual([
      'clients[0].redirect_uris[0]: a private-use URI scheme ("com.example.app:") is for native apps: set application_type "native"',
      'clients[0].redirect_uris[1]: must not contain a fragment (#…)',
      'clients[0].require_pkce: must be true or false',
    ]);
  });
});

describe('config check: our words, never the validator’s', () => {
  it('says what a wrong type, value or size means', async () => {
    expect(
      await refused({
        self_service: { registration: 'sometimes', password_reset: 'yes' },
        clients: [web({ default_max_age: -1, client_name: '', grant_types: [] })],
        apis: [{ identifier: 'https://api.example.com', name: 'API', scopes: ['x:read'], access_token_ttl: 5, access_token_format: 'paseto' }],
        identity_resources: 'none',
        upstreams: [{ type: 'saml', id: 'corp', name: 'Corp' }],
      }),
    ).toEqual([
      'apis[0].access_token_format: must be one of "jwt", "opaque"',
      'apis[0].access_token_ttl: must be at least 30',
      'clients[0].client_name: must not be empty',
      'clients[0].default_max_age: must be at least 0',
      'clients[0].grant_types: must list at least one value',
      'identity_resources: must be a list',
      'self_service.password_reset: must be true or false',
      'self_service.registration: must be one of "off", "open", "invite"',
      'upstreams[0].type: must be one of "oidc", "oauth2"',
    ]);
  });

  it('says what a bad environment variable means (PORT=abc is not "expected number, received NaN")', async () => {
    const result = await check({ clients: [] }, { PORT: 'abc', DB_POOL_SIZE: '2.5', LOG_LEVEL: 'loud' });
    outputs.push(result.stdout, result.stderr);
    expectOneLineError(result, /^gatehouse: environment is invalid: /);
    expect(result.stderr).toContain('PORT: must be a number');
    expect(result.stderr).toContain('DB_POOL_SIZE: must be a whole number');
    expect(result.stderr).toContain('LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"');
  });

  it('printed nothing in zod’s wording in any run of this file', () => {
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toMatch(/Invalid input|Invalid option|Unrecognized key|expected|received|Too small|Too big/i);
  });
});
