import { z } from 'zod';
import { hasUnstorableText } from '../core/nul_characters.js';

// What a user's own claims (users.claims, migration 0010) may be. They sit beside the standard
// profile columns and are released by identity resources (scope_claims.ts) and copied into API
// tokens, so a name must never be one the protocol or a column already gives a meaning to: a
// stored `sub` or `aud` would otherwise impersonate the provider's own, a stored `email` would
// shadow the verified column. `roles` is the one claim with a fixed shape: an array of strings,
// as APIs test it (`claimIncludes('roles', 'admin')`).

export const ROLES_CLAIM = 'roles';
const MAX_CLAIM_BYTES = 4096;
/** The whole claims object, as Postgres writes the jsonb out (users_repo.ts checks it in SQL). */
export const MAX_CLAIMS_BYTES = 16384;

export const roleSchema = z
  .string()
  .min(1, 'a role must not be empty')
  .max(100, 'a role has at most 100 characters')
  .regex(/^[^\s\p{Cc}]+$/u, 'a role has no spaces or control characters');

const rolesSchema = z.array(roleSchema).refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat');

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** Why `value` cannot be stored as claim `name`, or undefined. */
export function claimValueProblem(name: string, value: unknown): string | undefined {
  if (value === null || value === undefined) return 'a claim value must not be null (use unset-claim to remove a claim)';
  if (hasUnstorableText(value)) return 'a claim value must not contain NUL characters or unpaired surrogates';
  if (bytes(value) > MAX_CLAIM_BYTES) return `a claim value is at most ${MAX_CLAIM_BYTES} bytes of JSON`;
  if (name === ROLES_CLAIM) {
    const roles = rolesSchema.safeParse(value);
    if (!roles.success) return `"roles" must be an array of distinct strings: ${roles.error.issues[0]?.message ?? 'invalid'}`;
  }
  return undefined;
}

/** The CLI's value argument: JSON when it parses as JSON, else the text itself. */
export function parseClaimValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
