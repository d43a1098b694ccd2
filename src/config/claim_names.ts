import { z } from 'zod';

// Claim names with a meaning of their own, which neither a user's claims (accounts/user_claims.ts)
// nor an identity resource in the config file may take, and which claims the built-in scopes
// release. Here, below both, so the config check and the CLI refuse the same names the same way.

/** The user claims each built-in scope releases (find_account.ts reads them from the users row). */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
} as const satisfies Record<string, readonly string[]>;

/** The scopes every Gatehouse knows: those above and `offline_access` (refresh tokens). */
export const BUILT_IN_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email'];

/**
 * Claims the protocol sets on tokens and responses, never a user's: a user claim of that name
 * would overwrite them in an introspection answer (oidc-provider spreads the extra claims before
 * its own, and `sub` before them) or be taken for them by an API reading the token.
 */
const PROTOCOL_CLAIM_NAMES: ReadonlySet<string> = new Set([
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'azp',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'at_hash',
  'c_hash',
  's_hash',
  'cnf',
  'client_id',
  'scope',
  'typ',
  'events',
  'act',
  'may_act',
  'authorization_details',
  'token_type',
  'active',
  'username',
]);

/** Standard claims that come from the users table's own columns: those the built-in scopes release. */
const COLUMN_CLAIM_NAMES: ReadonlySet<string> = new Set([...CLAIMS_BY_SCOPE.profile, ...CLAIMS_BY_SCOPE.email]);

const CLAIM_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** Why `name` cannot be a claim name (ours or in the config), or undefined when it can. */
export function claimNameProblem(name: string): string | undefined {
  if (PROTOCOL_CLAIM_NAMES.has(name)) return `"${name}" is a protocol claim, set by the provider itself`;
  if (COLUMN_CLAIM_NAMES.has(name)) {
    const scope = (CLAIMS_BY_SCOPE.email as readonly string[]).includes(name) ? 'email' : 'profile';
    return `"${name}" is a standard claim, released by the built-in scope "${scope}" from the user's profile`;
  }
  if (!CLAIM_NAME.test(name)) return 'a claim name starts with a letter and has at most 64 letters, digits and _ . : -';
  return undefined;
}

/**
 * A name in `apis[].user_claims`: any user claim, the standard ones from the profile columns
 * included (an API may want the email address), but never a protocol claim.
 */
export const apiUserClaimNameSchema = z
  .string()
  .regex(CLAIM_NAME, 'must be a claim name: a letter, then up to 63 letters, digits, "_", ".", ":" or "-"')
  .refine((name) => !PROTOCOL_CLAIM_NAMES.has(name), 'is a protocol claim, set by Gatehouse itself, not a user claim');
