import type { AccountUser } from './read_ahead_user.js';

// The user claims an API's access tokens carry (config `apis[].user_claims`). The standard ones
// come from the user's profile columns, as userinfo has them; any other name from the user's own
// claims (`users.claims`, where `roles` lives). A claim the user does not have is left out, never
// sent as null: an API tells "no department" from "department unknown" by its absence alone.

// A Map, not an object literal: a claim named `constructor` or `toString` must not find
// Object.prototype's (which, called with the user, would hand out the whole row).
const FROM_COLUMNS: ReadonlyMap<string, (user: AccountUser) => unknown> = new Map<string, (user: AccountUser) => unknown>([
  ['preferred_username', (user) => user.username],
  ['email', (user) => user.email],
  ['email_verified', (user) => user.email_verified],
  ['name', (user) => user.name],
  ['given_name', (user) => user.given_name],
  ['family_name', (user) => user.family_name],
  ['updated_at', (user) => Math.floor(user.updated_at.getTime() / 1000)],
]);

/** `names` of `user`'s claims that it has, or undefined when it has none of them. */
export function pickUserClaims(user: AccountUser, names: readonly string[]): Record<string, unknown> | undefined {
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const fromColumn = FROM_COLUMNS.get(name);
    const value = fromColumn ? fromColumn(user) : Object.hasOwn(user.claims, name) ? user.claims[name] : undefined;
    if (value !== undefined && value !== null) picked[name] = value;
  }
  return Object.keys(picked).length ? picked : undefined;
}
