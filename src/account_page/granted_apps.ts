import type { Db } from '../db/db.js';
import type { AccountSessions } from '../storage/account_sessions.js';
import { createConsentsRepo } from '../storage/consents_repo.js';
import { isUuid } from '../core/uuid.js';
import { ACCOUNT_CLIENT_ID } from '../config/account_client.js';

// The applications a user has let in, one entry per application: what it holds now (its live
// grants, which its tokens hang off) together with what the user agreed to and the next sign-in
// would grant again unasked (the remembered consent, which outlives a sign-out). Either is a
// reason to list it: "Revoke access" (revokeGrants) removes both. The account page's own client
// is not an application the user granted anything to.

export interface GrantedApp {
  clientId: string;
  /** OpenID scopes (openid, profile, email, offline_access) */
  scopes: string[];
  /** API identifier → its scopes */
  apis: Record<string, string[]>;
  /** the earliest grant or consent still standing */
  grantedAt: Date;
}

const words = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean);

export async function listGrantedApps(db: Db, sessions: Pick<AccountSessions, 'listGrants'>, accountId: string): Promise<GrantedApp[]> {
  if (!isUuid(accountId)) return [];
  const [grants, consents] = await Promise.all([sessions.listGrants(accountId), createConsentsRepo(db).listForAccount(accountId)]);
  const apps = new Map<string, { scopes: Set<string>; apis: Map<string, Set<string>>; grantedAt: Date }>();
  function add(clientId: string, scope: string, resources: Record<string, string>, at: Date) {
    if (!clientId || clientId === ACCOUNT_CLIENT_ID) return;
    let app = apps.get(clientId);
    if (!app) apps.set(clientId, (app = { scopes: new Set(), apis: new Map(), grantedAt: at }));
    if (at < app.grantedAt) app.grantedAt = at;
    for (const s of words(scope)) app.scopes.add(s);
    for (const [api, apiScope] of Object.entries(resources)) {
      const known = app.apis.get(api) ?? new Set<string>();
      for (const s of words(apiScope)) known.add(s);
      app.apis.set(api, known);
    }
  }
  for (const grant of grants) add(grant.clientId, grant.scope, grant.resources, grant.grantedAt);
  for (const consent of consents) add(consent.clientId, consent.scope, consent.resourceScopes, consent.updatedAt);

  return [...apps.entries()]
    .map(([clientId, app]) => ({
      clientId,
      scopes: [...app.scopes],
      apis: Object.fromEntries([...app.apis].map(([api, scopes]) => [api, [...scopes]])),
      grantedAt: app.grantedAt,
    }))
    .sort((a, b) => b.grantedAt.getTime() - a.grantedAt.getTime());
}
