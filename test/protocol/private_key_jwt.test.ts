import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { buildUser, configWithClients, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { oidc, signIn } from '../support/relying_party.js';
import { RP } from '../support/fixtures.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { MAX_KEY_SET_AGE_SECONDS } from '../../src/provider/trusted_fetch.js';

// private_key_jwt (RFC 7523, OIDC Core 9): the client proves who it is with a JWT signed by its
// own private key; Gatehouse holds only the public key, inline (`jwks`) or at the client's
// `jwks_uri`, which it fetches and caches (trusted_fetch.ts documents for how long).

const USER = buildUser();

interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The client's own key-set endpoint: serves whatever `keys` holds, counts the fetches. */
async function keySetServer(cacheControl: string) {
  const state = { keys: [] as JWK[], fetches: 0 };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', cacheControl);
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    uri: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/jwks.json`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let gh: RunningGatehouse;
let keys: Record<'rsa' | 'ec' | 'stranger' | 'uriOld' | 'uriNew' | 'longOld' | 'longNew', KeyPair>;
let shortCache: Awaited<ReturnType<typeof keySetServer>>;
let longCache: Awaited<ReturnType<typeof keySetServer>>;

const signingClient = (clientId: string, extra: Record<string, unknown>) => ({
  client_id: clientId,
  token_endpoint_auth_method: 'private_key_jwt' as const,
  redirect_uris: [`${RP}/${clientId}/callback`],
  grant_types: ['authorization_code' as const, 'client_credentials' as const],
  scope: 'openid profile things:read',
  ...extra,
});

beforeAll(async () => {
  keys = {
    rsa: await keyPair('RS256', 'rsa-1'),
    ec: await keyPair('ES256', 'ec-1'),
    stranger: await keyPair('RS256', 'rsa-1'),
    uriOld: await keyPair('ES256', 'old'),
    uriNew: await keyPair('ES256', 'new'),
    longOld: await keyPair('RS256', 'long-old'),
    longNew: await keyPair('RS256', 'long-new'),
  };
  shortCache = await keySetServer('max-age=0');
  shortCache.state.keys = [keys.uriOld.jwk];
  longCache = await keySetServer('public, max-age=864000');
  longCache.state.keys = [keys.longOld.jwk];
  ({ gh } = await startGatehouseWithUsers([USER], {
    config: configWithClients(
      signingClient('rsa-signer', { jwks: { keys: [keys.rsa.jwk] } }),
      signingClient('ec-signer', { jwks: { keys: [keys.ec.jwk] } }),
      signingClient('uri-signer', { jwks_uri: shortCache.uri }),
      signingClient('long-cache-signer', { jwks_uri: longCache.uri }),
      // Port 9 (discard): nothing answers there.
      signingClient('unreachable-signer', { jwks_uri: 'http://127.0.0.1:9/jwks.json' }),
    ),
  }));
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  await gh?.close();
  await shortCache?.close();
  await longCache?.close();
});

function rpWith(clientId: string, key: KeyPair): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(gh.issuer),
    clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    oidc.PrivateKeyJwt({ key: key.privateKey, kid: key.jwk.kid! }),
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the test issuer is plain HTTP
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** client_credentials as the client: the HTTP status and OAuth error a refusal comes with. */
async function clientCredentials(clientId: string, key: KeyPair) {
  try {
    const tokens = await oidc.clientCredentialsGrant(await rpWith(clientId, key), { scope: 'things:read' });
    return { status: 200, tokens };
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError) return { status: error.status, error: error.error };
    throw error;
  }
}

describe.each([
  ['RS256', 'rsa-signer', 'rsa'],
  ['ES256', 'ec-signer', 'ec'],
] as const)('a client signing with an %s key in jwks', (_alg, clientId, keyName) => {
  it('gets a client_credentials token', async () => {
    const result = await clientCredentials(clientId, keys[keyName]);
    expect(result.status).toBe(200);
    expect(result.tokens?.access_token).toBeTruthy();
    expect(result.tokens?.scope).toBe('things:read');
  });

  it('exchanges an authorization code', async () => {
    const rp = await rpWith(clientId, keys[keyName]);
    const { tokens } = await signIn(rp, {
      redirectUri: `${RP}/${clientId}/callback`,
      scope: 'openid profile',
      credentials: credentialsOf(USER),
      consent: 'allow',
    });
    expect(tokens.claims()?.aud).toBe(clientId);
    expect(tokens.claims()?.sub).toBeTruthy();
  });

  it('is refused with another key of the same kid (401 invalid_client)', async () => {
    expect(await clientCredentials(clientId, keys.stranger)).toEqual({ status: 401, error: 'invalid_client' });
  });
});

describe('a client publishing its keys at a jwks_uri', () => {
  it('is fetched once and cached: a second assertion does not refetch', async () => {
    expect((await clientCredentials('uri-signer', keys.uriOld)).status).toBe(200);
    expect(shortCache.state.fetches).toBe(1);
    expect((await clientCredentials('uri-signer', keys.uriOld)).status).toBe(200);
    expect(shortCache.state.fetches).toBe(1);
    // An unknown key inside the 60 s floor is refused without fetching again.
    expect(await clientCredentials('uri-signer', keys.stranger)).toEqual({ status: 401, error: 'invalid_client' });
    expect(shortCache.state.fetches).toBe(1);
  });

  it('takes a rotated key once the cached set is older than 60 s (max-age=0 at the client)', async () => {
    await clientCredentials('uri-signer', keys.uriOld);
    const fetchesBefore = shortCache.state.fetches;
    shortCache.state.keys = [keys.uriNew.jwk];
    expect(await clientCredentials('uri-signer', keys.uriNew)).toEqual({ status: 401, error: 'invalid_client' });
    vi.setSystemTime(Date.now() + 61_000);
    expect((await clientCredentials('uri-signer', keys.uriNew)).status).toBe(200);
    expect(shortCache.state.fetches).toBe(fetchesBefore + 1);
    // The old key left the set with the rotation.
    expect(await clientCredentials('uri-signer', keys.uriOld)).toEqual({ status: 401, error: 'invalid_client' });
  });

  it(`caps a long max-age at ${String(MAX_KEY_SET_AGE_SECONDS)} s, so a rotation is picked up within the hour`, async () => {
    expect((await clientCredentials('long-cache-signer', keys.longOld)).status).toBe(200);
    longCache.state.keys = [keys.longNew.jwk];
    const start = Date.now();
    vi.setSystemTime(start + 10 * 60_000);
    // Within the cap, the cached set still rules.
    expect(await clientCredentials('long-cache-signer', keys.longNew)).toEqual({ status: 401, error: 'invalid_client' });
    vi.setSystemTime(start + (MAX_KEY_SET_AGE_SECONDS + 1) * 1000);
    expect((await clientCredentials('long-cache-signer', keys.longNew)).status).toBe(200);
    expect(longCache.state.fetches).toBe(2);
  });

  it('answers invalid_client, never a 500, when the key set cannot be fetched', async () => {
    const result = await clientCredentials('unreachable-signer', keys.uriOld);
    expect(result).toEqual({ status: 401, error: 'invalid_client' });
  });
});
