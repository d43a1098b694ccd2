import type { Account, AccountClaims, FindAccount } from 'oidc-provider';
import type { UsersRepo } from './users_repo.js';
import { takeUserForRequest, type AccountUser } from './read_ahead_user.js';
import type { ScopeClaims } from './scope_claims.js';
import { claimNameProblem } from '../config/claim_names.js';

/** The user's own claims whose names are theirs to have: a row written around the CLI holds no `email` for the email scope to release. */
function ownClaims(user: AccountUser): Record<string, unknown> {
  return Object.fromEntries(Object.entries(user.claims).filter(([name]) => claimNameProblem(name) === undefined));
}

function userClaims(user: AccountUser): AccountClaims {
  // Whichever of the user's own claims an identity resource releases, claimsForScope picks.
  const claims: AccountClaims = {
    ...ownClaims(user),
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

/** The user's claims that `scope` (space-separated, as oidc-provider passes it) releases, and `sub`. */
function claimsForScope(scopeClaims: ScopeClaims, claims: AccountClaims, scope: string | undefined): AccountClaims {
  const covered = scopeClaims.claimsCoveredBy((scope ?? '').split(' '));
  const released: AccountClaims = { sub: claims.sub };
  for (const [name, value] of Object.entries(claims)) if (covered.has(name)) released[name] = value;
  return released;
}

// The user each account was made from, for what the same request issues next (an access token's
// user claims, api_token_claims.ts) without reading the user a second time.
const usersOfAccounts = new WeakMap<Account, AccountUser>();

/** The user findAccount made `account` from (as read in this request), if it did. */
export function userOfAccount(account: Account | undefined): AccountUser | undefined {
  return account ? usersOfAccounts.get(account) : undefined;
}

/** A disabled or deleted user is no account: their tokens stop answering at userinfo. */
export function createFindAccount(users: UsersRepo, scopeClaims: ScopeClaims): FindAccount {
  return async (_ctx, sub) => {
    // Read with the token this request presented, if it did (read_ahead_user.ts).
    const user = takeUserForRequest(sub) ?? (await users.findBySub(sub));
    if (!user || user.disabled) return undefined;
    // Only what the token's granted scopes cover ever leaves here, whatever the request's
    // `claims` parameter or a grant stored by an earlier release says (scope_claims.ts).
    const account: Account = { accountId: user.sub, claims: (_use, scope) => claimsForScope(scopeClaims, userClaims(user), scope) };
    usersOfAccounts.set(account, user);
    return account;
  };
}
