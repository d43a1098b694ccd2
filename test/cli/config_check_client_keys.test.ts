import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from './cli_harness.js';

// `gatehouse config check` on the client kinds of issue #17: a private key pasted into the
// config file is refused with its path and without its value; a file with every kind passes.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-client-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(name: string, config: unknown) {
  const target = path.join(dir, name);
  await writeFile(target, JSON.stringify(config, null, 2));
  return { target, result: await runCli(['config', 'check', target], { env: NO_DATABASE }) };
}

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const privateJwk = privateKey.export({ format: 'jwk' });
const publicJwk = publicKey.export({ format: 'jwk' });

describe('gatehouse config check on client kinds', () => {
  it('refuses a private key in a client jwks, naming where and never printing it', async () => {
    const { target, result } = await check('private.json', {
      clients: [
        {
          client_id: 'signer',
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: ['client_credentials'],
          jwks: {
            keys: [
              { ...publicJwk, kid: 'ok' },
              { ...privateJwk, kid: 'oops' },
            ],
          },
        },
      ],
    });
    expectOneLineError(result, new RegExp(`^gatehouse: ${target}: 1 problem$`));
    expect(result.stdout).toBe(
      'clients[0].jwks.keys[1]: is a private key (it has "d"): put only the public key in the config file and keep the private key with the client\n',
    );
    expect(result.stdout + result.stderr).not.toContain(privateJwk.d!);
  });

  it('accepts a native app, private_key_jwt clients, DPoP and PAR clients together', async () => {
    const { result } = await check('kinds.json', {
      clients: [
        {
          client_id: 'cli',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['http://127.0.0.1/callback', 'com.example.cli:/callback'],
          dpop_bound_access_tokens: true,
        },
        {
          client_id: 'inline',
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: ['client_credentials'],
          jwks: { keys: [{ ...publicJwk, kid: 'k1' }] },
        },
        {
          client_id: 'remote',
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: ['client_credentials'],
          jwks_uri: 'https://remote.example.com/jwks.json',
        },
        {
          client_id: 'par',
          client_secret: 'par-secret-0123456789abcdef0123456789ab',
          redirect_uris: ['https://par.example.com/callback'],
          require_pushed_authorization_requests: true,
        },
      ],
    });
    expect(result).toEqual({ code: 0, stdout: 'ok: 4 clients, 0 APIs\n', stderr: '' });
  });
});
