import type { AccountClaims, FindAccount } from 'oidc-provider';
import type { UsersRepo } from './users_repo.js';
import { takeUserForRequest, type AccountUser } from './read_ahead_user.js';

// Standard claims by scope; oidc-provider filters them by the granted scopes and `claims`.
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
} as const;

export function userClaims(user: AccountUser): AccountClaims {
  const claims: AccountClaims = {
    sub: user.sub,
    preferred_username: user.username,
    updated_at: Math.floor(user.updated_at.getTime() / 1000),
    email_verified: user.email_verified,
  };
  for (const key of ['name', 'given_name', 'family_name', 'email'] as const) {
    if (user[key] !== null) claims[key] = user[key];
  }
  return claims;
}

/** A disabled or deleted user is no account: their tokens stop answering at userinfo. */
export function createFindAccount(users: UsersRepo): FindAccount {
  return async (_ctx, sub) => {
    // Read with the token this request presented, if it did (read_ahead_user.ts).
    const user = takeUserForRequest(sub) ?? (await users.findBySub(sub));
    if (!user || user.disabled) return undefined;
    return { accountId: user.sub, claims: () => userClaims(user) };
  };
}
