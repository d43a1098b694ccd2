import type { KoaContextWithOIDC } from 'oidc-provider';
import type { UsersRepo } from '../accounts/users_repo.js';
import { ACCOUNT_CLIENT_ID } from '../config/account_client.js';

// What the sign-out confirmation tells the person about to sign out (#18): who is signed in,
// which applications the sign-out ends, and where Cancel leads back to. Read from the session the
// library has loaded, never from the request: a link can carry any client_id, but not a session.

export interface SignOutDetails {
  /** the signed-in account as people know it: name and e-mail (either may be missing) */
  account: { name?: string; email?: string; username: string } | undefined;
  /** the applications this session signed in to (client names), the account page left out */
  apps: string[];
  /** Cancel: back to the application when one is known, else the account page */
  cancelHref: string;
}

/**
 * The application's own address, from its registration only (a link may name any client, but
 * only ever sends the person to an address that client's administrator registered): its
 * client_uri, else the origin of the post-logout address it asked for (the library has checked
 * it is registered) or of its first registered one.
 */
export function applicationHome(ctx: KoaContextWithOIDC): { name: string; href: string } | undefined {
  const client = ctx.oidc.client;
  if (!client || client.clientId === ACCOUNT_CLIENT_ID) return undefined;
  const asked = ctx.oidc.params?.post_logout_redirect_uri;
  const postLogout = typeof asked === 'string' ? asked : client.postLogoutRedirectUris?.[0];
  const href = client.clientUri ?? (postLogout ? `${new URL(postLogout).origin}/` : undefined);
  return href ? { name: client.clientName ?? client.clientId, href } : undefined;
}

export async function signOutDetails(ctx: KoaContextWithOIDC, users: Pick<UsersRepo, 'findBySub'>): Promise<SignOutDetails> {
  const session = ctx.oidc.session;
  const user = session?.accountId ? await users.findBySub(session.accountId) : undefined;
  const clientIds = Object.keys((session as { authorizations?: Record<string, unknown> } | undefined)?.authorizations ?? {}).filter(
    (id) => id !== ACCOUNT_CLIENT_ID,
  );
  const clients = await Promise.all(clientIds.map((id) => ctx.oidc.provider.Client.find(id)));
  const apps = clients.flatMap((client) => (client ? [client.clientName ?? client.clientId] : []));
  return {
    account: user ? { username: user.username, ...(user.name ? { name: user.name } : {}), ...(user.email ? { email: user.email } : {}) } : undefined,
    apps: [...new Set(apps)].sort((a, b) => a.localeCompare(b)),
    cancelHref: applicationHome(ctx)?.href ?? '/account',
  };
}
