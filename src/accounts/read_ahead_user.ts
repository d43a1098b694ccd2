import { readAhead } from '../core/read_ahead.js';
import { UUID_PATTERN } from '../core/uuid.js';
import type { User } from './users_repo.js';

// A token's user, read in the same statement as the token (the storage adapter joins it, see
// postgres_adapter.ts), for findAccount later in the same request: on the refresh, userinfo and
// code-exchange paths the account look-up then costs no round trip of its own. It is the row as
// it was when the token was read, a moment earlier in the same request.

/** What findAccount reads of a user: its claims and whether it is disabled (never the password hash). */
export type AccountUser = Pick<
  User,
  'sub' | 'username' | 'email' | 'email_verified' | 'name' | 'given_name' | 'family_name' | 'claims' | 'disabled' | 'updated_at'
>;

/**
 * `LEFT JOIN users <alias>` on the account id a statement has at hand (an SQL text expression).
 * Anything that is not a uuid names no user (a cast would fail the whole statement).
 */
export function joinUserSql(alias: string, accountId: string): string {
  return `LEFT JOIN users ${alias} ON ${alias}.sub = CASE WHEN ${accountId} ~* '${UUID_PATTERN}' THEN (${accountId})::uuid END`;
}

/** The joined user's AccountUser columns as one json value, NULL when no user was joined. */
export function userJsonSql(alias: string): string {
  const u = alias;
  return `CASE WHEN ${u}.sub IS NULL THEN NULL ELSE json_build_object(
    'sub', ${u}.sub, 'username', ${u}.username, 'email', ${u}.email, 'email_verified', ${u}.email_verified,
    'name', ${u}.name, 'given_name', ${u}.given_name, 'family_name', ${u}.family_name, 'claims', ${u}.claims, 'disabled', ${u}.disabled,
    'updated_at', extract(epoch FROM ${u}.updated_at)) END`;
}

/** The user as userJsonSql reads it. */
export type UserJson = Omit<AccountUser, 'updated_at'> & { updated_at: number | string };

const key = (sub: string) => `User:${sub.toLowerCase()}`;

/** What to keep (readAhead) of a user read by userJsonSql, for this request's findAccount. */
export function userToKeep(json: UserJson): { key: string; user: AccountUser } {
  return { key: key(json.sub), user: { ...json, updated_at: new Date(Number(json.updated_at) * 1000) } };
}

/** The user kept for `sub` in this request, once; undefined when there is none (then read it). */
export function takeUserForRequest(sub: string): AccountUser | undefined {
  return readAhead.take(key(sub)) as AccountUser | undefined;
}
