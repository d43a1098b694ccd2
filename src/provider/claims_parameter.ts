import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ScopeClaims } from '../accounts/scope_claims.js';
import { hasUnstorableText } from '../core/nul_characters.js';

// The `claims` authorization parameter (OIDC Core 5.5) may only pick among the claims of the
// scopes the same request asks for (which oidc-provider has already checked against the
// client's registered `scope`). Other members are dropped before anything reads the parameter,
// so they are never shown on the consent page, stored in a grant, nor remembered: a client
// registered for `openid` asking `{"id_token":{"email":null}}` learns nothing more, with or
// without a consent page (skip_consent clients, the account client). Claim names the provider
// does not serve are dropped the same way (OIDC Core 5.5 lets a provider ignore them), and a NUL
// or a lone surrogate anywhere in the parameter is invalid_request: the database cannot store it
// (nul_characters.ts), and it would be stored with the interaction and the grant.

const PARTS = ['id_token', 'userinfo'] as const;

type Members = Record<string, unknown>;

function isObject(value: unknown): value is Members {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deletes members other than `id_token` and `userinfo`, and from those what `scopes` do not cover; true if any. */
function dropUncovered(scopeClaims: ScopeClaims, claims: Members, scopes: string[]): boolean {
  let dropped = false;
  // Members other than these two are not OIDC's: nothing reads them, so nothing stores them.
  for (const member of Object.keys(claims)) {
    if ((PARTS as readonly string[]).includes(member)) continue;
    Reflect.deleteProperty(claims, member);
    dropped = true;
  }
  for (const part of PARTS) {
    const members = claims[part];
    if (!isObject(members)) continue;
    const kept = new Set(scopeClaims.claimsWithinScopes(Object.keys(members), scopes));
    for (const name of Object.keys(members)) {
      if (kept.has(name)) continue;
      Reflect.deleteProperty(members, name);
      dropped = true;
    }
  }
  return dropped;
}

/**
 * Limits the request's `claims` to its scopes, both the parameter (which the library parses
 * again wherever it needs it, and stores with an interaction) and the parsed copy. Also run
 * when a sign-in resumes, for interactions stored before this rule existed.
 */
export function limitRequestClaims(ctx: KoaContextWithOIDC, scopeClaims: ScopeClaims): void {
  const params = ctx.oidc.params as { scope?: string; claims?: string };
  if (typeof params.claims !== 'string') return;
  const scopes = (params.scope ?? '').split(' ').filter(Boolean);
  let parsed: unknown;
  try {
    parsed = JSON.parse(params.claims);
  } catch {
    return; // refused by the library's own check at the authorization endpoint
  }
  if (!isObject(parsed)) return;
  if (dropUncovered(scopeClaims, parsed, scopes)) params.claims = JSON.stringify(parsed);
  const assigned: unknown = ctx.oidc.claims;
  if (isObject(assigned)) dropUncovered(scopeClaims, assigned, scopes);
}

/** `features.claimsParameter.assertClaimsParameter`: storable text, the library's member check, then the limit. */
export async function limitClaimsParameter(ctx: KoaContextWithOIDC, claims: object, scopeClaims: ScopeClaims): Promise<void> {
  if (hasUnstorableText(claims)) throw new errors.InvalidRequest('the claims parameter must not contain NUL characters or unpaired surrogates');
  for (const part of PARTS) {
    const members = (claims as Members)[part];
    if (!isObject(members)) continue;
    for (const value of Object.values(members)) {
      if (value !== null && !isObject(value)) throw new errors.InvalidRequest(`claims.${part} members must be null or objects`);
    }
  }
  limitRequestClaims(ctx, scopeClaims);
}
