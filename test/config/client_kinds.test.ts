import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../src/config/format_issues.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { loadEnv } from '../../src/config/env.js';
import { clientProblems, createValidationProvider } from '../../src/provider/validate_clients.js';

// What the config file accepts for each kind of client: native apps (RFC 8252), clients signing
// with their own keys (private_key_jwt, with the public keys checked), DPoP and PAR flags. Each
// refusal names the field, as `gatehouse config check` prints it.

type Jwk = Record<string, unknown>;

/** A fresh key pair's JWKs: the public one, and the private one (which the config must refuse). */
function jwkPair(type: 'rsa' | 'ec' | 'ed25519', options: { modulusLength?: number; namedCurve?: string } = {}): { pub: Jwk; priv: Jwk } {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: options.namedCurve ?? 'P-256' })
        : generateKeyPairSync('ed25519');
  return { pub: pair.publicKey.export({ format: 'jwk' }), priv: pair.privateKey.export({ format: 'jwk' }) };
}

const RSA = jwkPair('rsa');
const EC = jwkPair('ec');
const ED = jwkPair('ed25519');

function problems(...clients: Record<string, unknown>[]): string[] {
  const result = gatehouseConfigSchema.safeParse({ clients });
  return result.success ? [] : formatIssues(result.error);
}

const signer = (extra: Record<string, unknown>) => ({
  client_id: 'signer',
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  ...extra,
});

describe('private_key_jwt client keys', () => {
  it('accepts RSA, P-256 and Ed25519 public keys inline, or a jwks_uri', () => {
    expect(
      problems(
        signer({
          jwks: {
            keys: [
              { ...RSA.pub, kid: 'r', alg: 'RS256' },
              { ...EC.pub, kid: 'e', use: 'sig' },
              { ...ED.pub, kid: 'd' },
            ],
          },
        }),
      ),
    ).toEqual([]);
    expect(problems(signer({ jwks_uri: 'https://client.example.com/jwks.json' }))).toEqual([]);
  });

  it('refuses a private key, naming the member and never quoting it', () => {
    for (const [name, pair] of [
      ['rsa', RSA],
      ['ec', EC],
      ['ed25519', ED],
    ] as const) {
      const found = problems(signer({ jwks: { keys: [{ ...pair.priv, kid: name }] } }));
      expect(found).toEqual([
        'clients[0].jwks.keys[0]: is a private key (it has "d"): put only the public key in the config file and keep the private key with the client',
      ]);
      expect(found.join('\n')).not.toContain(pair.priv.d as string);
    }
    expect(problems(signer({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }] } }))).toEqual([
      'clients[0].jwks.keys[0]: is a private key (it has "k"): put only the public key in the config file and keep the private key with the client',
    ]);
  });

  it('refuses keys that cannot sign an assertion the token endpoint accepts', () => {
    const p384 = jwkPair('ec', { namedCurve: 'P-384' }).pub;
    const small = jwkPair('rsa', { modulusLength: 1024 }).pub;
    expect(
      problems(
        signer({
          jwks: {
            keys: [
              { ...p384, kid: 'a' },
              { ...small, kid: 'b' },
              { ...RSA.pub, kid: 'c', alg: 'ES256' },
              { ...EC.pub, kid: 'd', use: 'enc' },
              { kty: 'OKP', crv: 'X25519', x: ED.pub.x, kid: 'e' },
              { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'f' },
            ],
          },
        }),
      ),
    ).toEqual([
      'clients[0].jwks.keys[0]: EC curve "P-384" is not supported (use P-256 for ES256)',
      'clients[0].jwks.keys[1]: an RSA key must have at least 2048 bits',
      'clients[0].jwks.keys[2]: alg "ES256" is not usable with this key (one of RS256, PS256)',
      'clients[0].jwks.keys[3]: use must be "sig": the key signs client assertions',
      'clients[0].jwks.keys[4]: OKP curve "X25519" cannot sign (use Ed25519)',
      'clients[0].jwks.keys[5]: is not a valid EC public key',
    ]);
  });

  it('refuses two keys with one kid', () => {
    expect(
      problems(
        signer({
          jwks: {
            keys: [
              { ...RSA.pub, kid: 'same' },
              { ...EC.pub, kid: 'same' },
            ],
          },
        }),
      ),
    ).toEqual(['clients[0].jwks.keys[1].kid: duplicate kid "same": each key needs its own']);
  });

  it('needs exactly one source of keys, no secret, and keys only for private_key_jwt', () => {
    expect(problems(signer({}))).toEqual(['clients[0].jwks: a private_key_jwt client needs its public keys: jwks (inline) or jwks_uri']);
    expect(problems(signer({ jwks: { keys: [RSA.pub] }, jwks_uri: 'https://c.example.com/jwks' }))).toEqual([
      'clients[0].jwks_uri: give jwks or jwks_uri, not both (RFC 7591 2)',
    ]);
    expect(problems(signer({ jwks: { keys: [RSA.pub] }, client_secret: 'x'.repeat(40) }))).toEqual([
      'clients[0].client_secret: must not be set for token_endpoint_auth_method "private_key_jwt": the client signs with its own key',
    ]);
    expect(problems(signer({ token_endpoint_auth_method: 'client_secret_basic', client_secret: 'x'.repeat(40), jwks: { keys: [RSA.pub] } }))).toEqual([
      'clients[0].jwks: public keys are only used with token_endpoint_auth_method "private_key_jwt"',
    ]);
  });

  it('checks token_endpoint_auth_signing_alg against the method and the keys', () => {
    expect(problems(signer({ jwks: { keys: [EC.pub] }, token_endpoint_auth_signing_alg: 'ES256' }))).toEqual([]);
    expect(problems(signer({ jwks: { keys: [EC.pub] }, token_endpoint_auth_signing_alg: 'RS256' }))).toEqual([
      'clients[0].token_endpoint_auth_signing_alg: no key in jwks can verify RS256',
    ]);
    expect(problems(signer({ jwks: { keys: [EC.pub] }, token_endpoint_auth_signing_alg: 'HS256' }))).toEqual([
      'clients[0].token_endpoint_auth_signing_alg: HS256 needs a shared secret: use client_secret_jwt',
    ]);
    expect(
      problems(signer({ token_endpoint_auth_method: 'client_secret_basic', client_secret: 'x'.repeat(40), token_endpoint_auth_signing_alg: 'RS256' })),
    ).toEqual(['clients[0].token_endpoint_auth_signing_alg: only for token_endpoint_auth_method "private_key_jwt" or "client_secret_jwt"']);
  });

  it('passes oidc-provider’s own client validation too', async () => {
    const config = gatehouseConfigSchema.parse({
      clients: [
        signer({
          jwks: {
            keys: [
              { ...RSA.pub, kid: 'r' },
              { ...EC.pub, kid: 'e' },
              { ...ED.pub, kid: 'd' },
            ],
          },
        }),
        signer({ client_id: 'uri', jwks_uri: 'https://c.example.com/jwks' }),
      ],
    });
    const env = loadEnv({ ISSUER: 'http://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await clientProblems(await createValidationProvider(env, config), config.clients)).toEqual([]);
  });
});

describe('native apps', () => {
  const native = (extra: Record<string, unknown>) => ({
    client_id: 'cli',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    ...extra,
  });

  it('accept loopback redirects and private-use schemes named after a domain', () => {
    expect(problems(native({ redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback', 'com.example.app:/callback'] }))).toEqual([]);
  });

  it('refuse a private-use scheme that is no reversed domain, and http off the loopback', () => {
    expect(problems(native({ redirect_uris: ['myapp:/callback', 'http://app.example.com/callback'] }))).toEqual([
      'clients[0].redirect_uris[0]: private-use URI scheme "myapp" must be a reversed domain name the app owns, e.g. com.example.app (RFC 8252 7.1)',
      'clients[0].redirect_uris[1]: a native app may use http only on a loopback address (http://127.0.0.1/… or http://[::1]/…, any port)',
    ]);
  });

  it('refuse require_pkce: false, confidential ones too', () => {
    expect(
      problems(
        native({
          token_endpoint_auth_method: 'client_secret_basic',
          client_secret: 'x'.repeat(40),
          redirect_uris: ['com.example.app:/cb'],
          require_pkce: false,
        }),
      ),
    ).toEqual(['clients[0].require_pkce: a native app (application_type "native") must use PKCE (RFC 8252 8.1); only a confidential web client may set false']);
  });

  it('are the only clients allowed a private-use scheme', () => {
    expect(problems({ client_id: 'web', client_secret: 'x'.repeat(40), redirect_uris: ['com.example.app:/callback'] })).toEqual([
      'clients[0].redirect_uris[0]: a private-use URI scheme ("com.example.app:") is for native apps: set application_type "native"',
    ]);
  });
});

describe('DPoP and PAR flags', () => {
  it('are booleans a client may set', () => {
    expect(
      problems({
        client_id: 'c',
        client_secret: 'x'.repeat(40),
        redirect_uris: ['https://c.example.com/cb'],
        dpop_bound_access_tokens: true,
        require_pushed_authorization_requests: true,
      }),
    ).toEqual([]);
    expect(problems({ client_id: 'c', client_secret: 'x'.repeat(40), redirect_uris: ['https://c.example.com/cb'], dpop_bound_access_tokens: 'yes' })).toEqual([
      'clients[0].dpop_bound_access_tokens: Invalid input: expected boolean, received string',
    ]);
  });
});
