import { createPublicKey } from 'node:crypto';
import { z } from 'zod';

// A private_key_jwt client's public keys (RFC 7523, OIDC Core 9), as an inline `jwks` in the
// config file. The config file is read by people and copied around: a private key in it is a
// leaked key, so any private member refuses the whole entry, with a message that names the member
// and never quotes a value. Each key must be able to verify one of the algorithms the token
// endpoint accepts (discovery's token_endpoint_auth_signing_alg_values_supported, from the list
// below), or the client could never authenticate with it.

/** Algorithms a client may sign its assertion with; HS256 is client_secret_jwt's. */
export const CLIENT_AUTH_SIGNING_ALGS = ['HS256', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'] as const;
type AsymmetricAlg = Exclude<(typeof CLIENT_AUTH_SIGNING_ALGS)[number], 'HS256'>;

// Every JWK member that belongs to a private or secret key (RFC 7518 6.2.2, 6.3.2, 6.4; RFC 8037 2).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

const MIN_RSA_BITS = 2048;

/** The algorithms a public key of this type verifies, or why it cannot verify any of ours. */
function usableAlgs(jwk: Record<string, unknown>): AsymmetricAlg[] | string {
  switch (jwk.kty) {
    case 'RSA': {
      const bits = typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length * 8 : 0;
      return bits >= MIN_RSA_BITS ? ['RS256', 'PS256'] : `an RSA key must have at least ${MIN_RSA_BITS} bits`;
    }
    case 'EC':
      return jwk.crv === 'P-256' ? ['ES256'] : `EC curve ${JSON.stringify(jwk.crv)} is not supported (use P-256 for ES256)`;
    case 'OKP':
      return jwk.crv === 'Ed25519' ? ['Ed25519', 'EdDSA'] : `OKP curve ${JSON.stringify(jwk.crv)} cannot sign (use Ed25519)`;
    case 'oct':
      return 'a symmetric key cannot be published; use client_secret_jwt with client_secret instead';
    default:
      return `kty must be RSA, EC or OKP (signing keys)`;
  }
}

/** The first thing wrong with one JWK, or undefined when it is a usable public signing key. */
function jwkProblem(jwk: Record<string, unknown>): string | undefined {
  const secret = PRIVATE_MEMBERS.find((member) => member in jwk);
  if (secret !== undefined) {
    return `is a private key (it has "${secret}"): put only the public key in the config file and keep the private key with the client`;
  }
  const algs = usableAlgs(jwk);
  if (typeof algs === 'string') return algs;
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use must be "sig": the key signs client assertions';
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return 'key_ops must include "verify"';
  if (jwk.alg !== undefined && !algs.includes(jwk.alg as AsymmetricAlg)) {
    return `alg ${JSON.stringify(jwk.alg)} is not usable with this key (one of ${algs.join(', ')})`;
  }
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return `is not a valid ${String(jwk.kty)} public key`;
  }
  return undefined;
}

/** The algorithms at least one key of the set verifies. */
export function jwksAlgs(jwks: ClientJwks): Set<AsymmetricAlg> {
  const out = new Set<AsymmetricAlg>();
  for (const jwk of jwks.keys) {
    const algs = usableAlgs(jwk);
    if (typeof algs === 'string') continue;
    for (const alg of algs) if (jwk.alg === undefined || jwk.alg === alg) out.add(alg);
  }
  return out;
}

export const clientJwksSchema = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())).min(1, 'must list at least one public key') })
  .strict()
  .superRefine((jwks, ctx) => {
    const kids = new Set<unknown>();
    jwks.keys.forEach((jwk, i) => {
      const problem = jwkProblem(jwk);
      if (problem) ctx.addIssue({ code: 'custom', path: ['keys', i], message: problem });
      if (jwk.kid === undefined) return;
      if (typeof jwk.kid !== 'string' || jwk.kid === '') {
        ctx.addIssue({ code: 'custom', path: ['keys', i, 'kid'], message: 'must be a non-empty string' });
      } else if (kids.has(jwk.kid)) {
        ctx.addIssue({ code: 'custom', path: ['keys', i, 'kid'], message: `duplicate kid ${JSON.stringify(jwk.kid)}: each key needs its own` });
      }
      kids.add(jwk.kid);
    });
  });

export type ClientJwks = z.infer<typeof clientJwksSchema>;
