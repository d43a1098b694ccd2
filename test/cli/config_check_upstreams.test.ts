import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli_harness.js';

// `gatehouse config check` on `upstreams` (README "Upstream identity providers"): valid entries
// pass with no network (discovery happens when the server runs), and each mistake is named by
// its path. Secrets come through ${ENV}.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-config-upstreams-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const client = (extra: Record<string, unknown> = {}) => ({
  client_id: 'web',
  client_secret: 'web-secret-0123456789abcdef0123456789',
  redirect_uris: ['https://web.example.com/callback'],
  ...extra,
});
const corp = { id: 'corp', name: 'Corp SSO', issuer: 'https://sso.corp.example', client_id: 'gatehouse', client_secret: '${CORP_SECRET}' };
const github = {
  id: 'github',
  type: 'oauth2',
  name: 'GitHub',
  client_id: 'Iv1.0123',
  client_secret: 'gh-secret',
  authorization_endpoint: 'https://github.com/login/oauth/authorize',
  token_endpoint: 'https://github.com/login/oauth/access_token',
  userinfo_endpoint: 'https://api.github.com/user',
  claims: { sub: 'id', preferred_username: 'login', email: 'email', name: 'name' },
};

async function check(config: unknown, env: Record<string, string> = {}) {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(config));
  return runCli(['config', 'check', file], { env: { ...NO_DATABASE, CORP_SECRET: 'corp-secret', ...env } });
}

describe('gatehouse config check: upstreams', () => {
  it('accepts OpenID Connect and OAuth 2.0 upstreams and a client limited to one, without the network', async () => {
    expect(await check({ clients: [client({ upstreams: ['github'] })], upstreams: [corp, github] })).toMatchObject({ code: 0, stderr: '' });
  });

  it('names each field mistake by its path', async () => {
    const result = await check({
      upstreams: [
        { ...corp, link: 'whenever' },
        { ...github, claims: { login: 'login' } },
        { ...corp, id: 'Bad Id!', issuer: 'not a url' },
      ],
    });
    expect(result.code).toBe(1);
    const out = result.stdout + result.stderr;
    expect(out).toContain('upstreams[0].link');
    expect(out).toContain('upstreams[1].claims.sub');
    expect(out).toContain('upstreams[1].claims.login: unknown field');
    expect(out).toContain('upstreams[2].id');
    expect(out).toContain('upstreams[2].issuer');
  });

  it('refuses an unknown upstream in a client, a duplicate id, and an OpenID Connect scope without openid', async () => {
    const result = await check({
      clients: [client({ upstreams: ['nope'] })],
      upstreams: [
        { ...corp, scope: 'profile email' },
        { ...github, id: 'corp' },
      ],
    });
    expect(result.code).toBe(1);
    const out = result.stdout + result.stderr;
    expect(out).toContain('clients[0].upstreams[0]: unknown upstream "nope"');
    expect(out).toContain('upstreams[1].id: duplicate upstream id "corp"');
    expect(out).toContain('upstreams[0].scope: must include "openid"');
  });

  it('reports an unset ${ENV} secret', async () => {
    const file = path.join(dir, 'env.json');
    await writeFile(file, JSON.stringify({ upstreams: [corp] }));
    const unset = await runCli(['config', 'check', file], { env: NO_DATABASE });
    expect(unset.code).toBe(1);
    expect(unset.stdout + unset.stderr).toContain('environment variable CORP_SECRET is not set');
  });
});
