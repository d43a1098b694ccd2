import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { hasUnstorableText } from '../db/nul_characters.js';

// The `claims` request parameter (OIDC Core 5.5) is JSON the client writes: it is kept in the
// interaction, the grant, the code and the refresh token. Two things about it are refused or
// dropped before any of that is stored:
// - a NUL or a lone surrogate anywhere in it (a JSON `\ud800` escape) is invalid_request: the
//   database cannot store it (nul_characters.ts);
// - claim names the provider does not serve are dropped (OIDC Core 5.5 lets a provider ignore
//   them), so a request cannot make the stored grant grow with made-up names.

/** Claims the library itself puts in ID tokens, which a client may ask for by name. */
export const PROTOCOL_CLAIMS = ['sub', 'auth_time', 'acr', 'amr', 'sid'] as const;

const MEMBERS = ['userinfo', 'id_token'] as const;

export function createClaimsParameterCheck(supported: Iterable<string>) {
  const known = new Set<string>([...supported, ...PROTOCOL_CLAIMS]);
  return async (ctx: KoaContextWithOIDC, claims: Record<string, unknown>): Promise<void> => {
    if (hasUnstorableText(claims)) throw new errors.InvalidRequest('the claims parameter must not contain NUL characters or unpaired surrogates');
    const kept: Record<string, Record<string, unknown>> = {};
    for (const member of MEMBERS) {
      const requested = claims[member] as Record<string, unknown> | undefined;
      if (requested === undefined) continue;
      kept[member] = Object.fromEntries(Object.entries(requested).filter(([name]) => known.has(name)));
    }
    // The library reads the parameter again (as text) when it assigns the claims.
    (ctx.oidc.params as { claims?: string }).claims = JSON.stringify(kept);
  };
}
