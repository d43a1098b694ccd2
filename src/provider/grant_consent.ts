import type { Grant } from 'oidc-provider';
import type { Consent } from '../storage/consents_repo.js';
import type { ScopeClaims } from '../accounts/scope_claims.js';

// Adding what a user consented to (or what a first-party client asks for) to a grant. Claims are
// granted only as far as the grant's OIDC scopes, held and added, cover them: the consent page
// shows scopes, so a claim no shown scope covers was never agreed to (scope_claims.ts).

export function grantedOIDCScope(grant: Grant): string[] {
  return grant.getOIDCScope().split(' ').filter(Boolean);
}

/** What adding `wanted` to a grant that holds `heldScope` really grants. */
export function grantable(scopeClaims: ScopeClaims, heldScope: readonly string[], wanted: Consent): Consent {
  return {
    scope: wanted.scope,
    claims: scopeClaims.claimsWithinScopes(wanted.claims, [...heldScope, ...wanted.scope]),
    resourceScopes: wanted.resourceScopes,
  };
}

/** Adds `wanted` to `grant` as far as grantable() allows; returns what was added. */
export function addToGrant(scopeClaims: ScopeClaims, grant: Grant, wanted: Consent): Consent {
  const added = grantable(scopeClaims, grantedOIDCScope(grant), wanted);
  if (added.scope.length) grant.addOIDCScope(added.scope.join(' '));
  if (added.claims.length) grant.addOIDCClaims(added.claims);
  for (const [indicator, scopes] of Object.entries(added.resourceScopes)) {
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  return added;
}
