// Which user claims each standard scope releases, and the one rule that decides what a client
// may learn: a claim is released only when a scope covering it was asked for and granted. The
// `claims` request parameter may pick among those claims (say, ask for `email` in the ID token
// too), never add to them: a client registered for `openid` alone must not learn an email
// address by naming it in `claims`.

export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Claims about the sign-in itself, not about the user, which any OpenID Connect request may name
 * (oidc-provider's NON_REJECTABLE_CLAIMS): `sub` to require a given user, `acr` values, ...
 */
export const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/** The user claims the given scopes release (unknown and API scopes release none). */
export function claimsCoveredBy(scopes: Iterable<string>): Set<string> {
  const covered = new Set<string>();
  for (const scope of scopes) {
    const claims = (CLAIMS_BY_SCOPE as Record<string, readonly string[] | undefined>)[scope];
    for (const claim of claims ?? []) covered.add(claim);
  }
  return covered;
}

/** `claims` less those neither covered by `scopes` nor about the sign-in itself. */
export function claimsWithinScopes(claims: Iterable<string>, scopes: Iterable<string>): string[] {
  const covered = claimsCoveredBy(scopes);
  return [...claims].filter((claim) => PROTOCOL_CLAIMS.has(claim) || covered.has(claim));
}
