import type { KoaContextWithOIDC } from 'oidc-provider';
import type { UsersRepo } from '../accounts/users_repo.js';
import { userOfAccount } from '../accounts/find_account.js';
import { takeUserForRequest, type AccountUser } from '../accounts/read_ahead_user.js';
import { pickUserClaims } from '../accounts/api_user_claims.js';
import type { ResourceServers } from './resource_servers.js';

// oidc-provider's `extraTokenClaims`: an access token for an API with `user_claims` carries those
// claims of its user, as they are when the token is issued (a new code or a refresh gives the
// current values). The library stores what this returns as the token's `extra`: the JWT body for
// a JWT access token, the introspection answer for an opaque one. A token without a user
// (client_credentials) or without an API audience (userinfo only) carries none.

/** The token as extraTokenClaims sees it (an AccessToken or ClientCredentials model). */
interface IssuedToken {
  accountId?: string;
  resourceServer?: { identifier(): string };
}

export type ExtraTokenClaims = (ctx: KoaContextWithOIDC | undefined, token: IssuedToken) => Promise<Record<string, unknown> | undefined>;

export function createApiTokenClaims(deps: { users: Pick<UsersRepo, 'findBySub'>; resources: Pick<ResourceServers, 'byIdentifier'> }): ExtraTokenClaims {
  async function userOf(ctx: KoaContextWithOIDC | undefined, sub: string): Promise<AccountUser | undefined> {
    // The token endpoint found the account just before issuing (and refused a disabled one);
    // other paths read the user as findAccount would. A token issued outside a request has no ctx.
    const account = ctx?.oidc.account;
    const found = account?.accountId === sub ? userOfAccount(account) : undefined;
    return found ?? takeUserForRequest(sub) ?? (await deps.users.findBySub(sub));
  }

  return async (ctx, token) => {
    const identifier = token.resourceServer?.identifier();
    const names = identifier ? deps.resources.byIdentifier(identifier)?.user_claims : undefined;
    if (!token.accountId || !names?.length) return undefined;
    const user = await userOf(ctx, token.accountId);
    if (!user || user.disabled) return undefined;
    return pickUserClaims(user, names);
  };
}
