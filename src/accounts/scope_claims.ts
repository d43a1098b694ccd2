import { BUILT_IN_SCOPES, CLAIMS_BY_SCOPE } from '../config/claim_names.js';
import type { IdentityResourceConfig } from '../config/gatehouse_config.js';

// Which user claims each scope releases, and the one rule that decides what a client may learn:
// a claim is released only when a scope covering it was asked for and granted. The scopes are
// the built-in ones (CLAIMS_BY_SCOPE) and the config file's identity resources, so the mapping
// is built from the config (createScopeClaims) with each provider the host builds: a reload
// that adds an identity resource takes effect with the next provider. The `claims` request
// parameter may pick among those claims (say, ask for `email` in the ID token too), never add to
// them: a client registered for `openid` alone must not learn an email address by naming it in
// `claims`.

/**
 * Claims about the sign-in itself, not about the user, which any OpenID Connect request may name
 * (oidc-provider's NON_REJECTABLE_CLAIMS): `sub` to require a given user, `acr` values, ...
 */
export const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

export interface ScopeClaims {
  /** every OpenID scope the provider serves: the built-in ones, then the identity resources */
  readonly scopes: readonly string[];
  /** oidc-provider's `claims` setting: each scope and the claims it releases */
  readonly providerClaims: Readonly<Record<string, readonly string[]>>;
  /** the config's identity resources, for the pages that describe them */
  readonly identityResources: readonly IdentityResourceConfig[];
  /** the user claims the given scopes release (unknown and API scopes release none) */
  claimsCoveredBy(scopes: Iterable<string>): Set<string>;
  /** `claims` less those neither covered by `scopes` nor about the sign-in itself */
  claimsWithinScopes(claims: Iterable<string>, scopes: Iterable<string>): string[];
}

/** The scope → claims mapping of the built-in scopes plus `identityResources` (checked by the config schema). */
export function createScopeClaims(identityResources: readonly IdentityResourceConfig[] = []): ScopeClaims {
  const byScope = new Map<string, readonly string[]>(Object.entries(CLAIMS_BY_SCOPE));
  for (const resource of identityResources) byScope.set(resource.name, [...resource.claims]);

  function claimsCoveredBy(scopes: Iterable<string>): Set<string> {
    const covered = new Set<string>();
    for (const scope of scopes) for (const claim of byScope.get(scope) ?? []) covered.add(claim);
    return covered;
  }

  return {
    scopes: [...BUILT_IN_SCOPES, ...identityResources.map((r) => r.name)],
    providerClaims: Object.fromEntries(byScope),
    identityResources,
    claimsCoveredBy,
    claimsWithinScopes(claims, scopes) {
      const covered = claimsCoveredBy(scopes);
      return [...claims].filter((claim) => PROTOCOL_CLAIMS.has(claim) || covered.has(claim));
    },
  };
}
