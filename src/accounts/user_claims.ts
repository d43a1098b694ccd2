import { z } from 'zod';
import { hasUnstorableText } from '../core/nul_characters.js';

// What a user's own claims (users.claims, migration 0010) may be. They sit beside the standard
// profile columns and are released by identity resources (scope_claims.ts) and copied into API
// tokens, so a name must never be one the protocol or a column already gives a meaning to: a
// stored `sub` or `aud` would otherwise impersonate the provider's own, a stored `email` would
// shadow the verified column. `roles` is the one claim with a fixed shape: an array of strings,
// as APIs test it (`claimIncludes('roles', 'admin')`).

/** Claims the protocol sets on tokens and responses: never a user's. */
export const PROTOCOL_CLAIM_NAMES: ReadonlySet<string> = new Set([
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
  'token_type',
  'active',
  'username',
]);

/** Standard claims that come from the users table's own columns (find_account.ts). */
export const COLUMN_CLAIM_NAMES: ReadonlySet<string> = new Set([
  'name',
  'given_name',
  'family_name',
  'preferred_username',
  'email',
  'email_verified',
  'updated_at',
]);

export const ROLES_CLAIM = 'roles';
export const MAX_CLAIM_BYTES = 4096;
/** The whole claims object, as Postgres writes the jsonb out (users_repo.ts checks it in SQL). */
export const MAX_CLAIMS_BYTES = 16384;

const CLAIM_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** Why `name` cannot be a claim name (ours or in the config), or undefined when it can. */
export function claimNameProblem(name: string): string | undefined {
  if (PROTOCOL_CLAIM_NAMES.has(name)) return `"${name}" is a protocol claim, set by the provider itself`;
  if (COLUMN_CLAIM_NAMES.has(name)) return `"${name}" is a standard claim with its own column (set it with users add)`;
  if (!CLAIM_NAME.test(name)) return 'a claim name starts with a letter and has at most 64 letters, digits and _ . : -';
  return undefined;
}

export const claimNameSchema = z.string().superRefine((name, ctx) => {
  const problem = claimNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

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
