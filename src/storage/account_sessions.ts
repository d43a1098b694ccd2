import type { Db } from '../db/db.js';
import type { LogoutNotice } from './logout_notices.js';
import { createOidcModelsStore, type SessionPayload } from './oidc_models_store.js';
import { createClientsStore } from './clients_store.js';
import { createConsentsRepo } from './consents_repo.js';

// A user's sign-in sessions and app grants as stored by the adapter, for the places that end
// them from outside the protocol: `gatehouse sessions`, `users disable|delete` and /account.
// Ending a session does what the end-session endpoint does (its grants and their tokens go,
// unless the library marked a grant to outlive logout) and returns the back-channel logout
// notices owed to the clients that session signed in to. Sessions are named by their storage
// key (a hash of the cookie value): showing it reveals nothing usable. The statements are the
// tables' own: oidc_models_store.ts, clients_store.ts and consents_repo.ts.

interface SessionSummary {
  /** storage key of the session (SHA-256 of its cookie value, base64url) */
  id: string;
  signedInAt: Date | undefined;
  lastActiveAt: Date;
  expiresAt: Date | undefined;
  ip: string | undefined;
  userAgent: string | undefined;
  /** client ids the session signed in to */
  clients: string[];
}

interface GrantSummary {
  grantId: string;
  clientId: string;
  /** OpenID scopes granted (openid, profile, email, offline_access) */
  scope: string;
  /** API identifier → scopes granted for it */
  resources: Record<string, string>;
  grantedAt: Date;
  expiresAt: Date | undefined;
}

export interface AccountSessions {
  listSessions(accountId: string): Promise<SessionSummary[]>;
  /** The session whose id starts with `prefix` (at least 8 characters); `ambiguous` when several do. */
  findSession(prefix: string): Promise<{ id: string; accountId: string } | 'ambiguous' | undefined>;
  /** Ends these sessions of the account (all of them without `ids`); returns the notices owed. */
  endSessions(accountId: string, ids?: string[]): Promise<{ ended: number; notices: LogoutNotice[] }>;
  listGrants(accountId: string): Promise<GrantSummary[]>;
  /**
   * Removes the account's grants (all, or one client's) with their tokens and remembered
   * consent (unless `keepConsent`: a password change takes tokens, not consent), and signs that
   * client out of every session; returns the notices owed.
   */
  revokeGrants(accountId: string, clientId?: string, options?: { keepConsent?: boolean }): Promise<{ revoked: number; notices: LogoutNotice[] }>;
  /** Everything: sessions and grants (a disabled or deleted user). */
  endEverything(accountId: string): Promise<{ ended: number; revoked: number; notices: LogoutNotice[] }>;
}

export const MIN_SESSION_ID_PREFIX = 8;

export function createAccountSessions(db: Db): AccountSessions {
  const models = createOidcModelsStore(db);
  const clients = createClientsStore(db);
  const consents = createConsentsRepo(db);

  /** Notices for the clients (among those named) that take back-channel logouts. */
  async function noticesFor(accountId: string, pairs: { clientId: string; sid: string | undefined }[]): Promise<LogoutNotice[]> {
    if (pairs.length === 0) return [];
    const takes = new Set(await clients.withBackchannelLogout([...new Set(pairs.map((p) => p.clientId))]));
    return pairs.filter((p) => takes.has(p.clientId)).map((p) => ({ clientId: p.clientId, sub: accountId, sid: p.sid }));
  }

  const accountSessions: AccountSessions = {
    async listSessions(accountId) {
      const rows = await models.sessionsOf(accountId);
      return rows.map((row) => ({
        id: row.id,
        signedInAt: row.payload.loginTs ? new Date(row.payload.loginTs * 1000) : undefined,
        lastActiveAt: row.updated_at,
        expiresAt: row.expires_at ?? undefined,
        ip: row.client_info?.ip,
        userAgent: row.client_info?.user_agent,
        clients: Object.keys(row.payload.authorizations ?? {}),
      }));
    },

    async findSession(prefix) {
      if (prefix.length < MIN_SESSION_ID_PREFIX) return undefined;
      const rows = await models.sessionsByIdPrefix(prefix);
      if (rows.length > 1) return 'ambiguous';
      return rows[0] ? { id: rows[0].id, accountId: rows[0].account_id } : undefined;
    },

    async endSessions(accountId, ids) {
      const payloads: SessionPayload[] = await models.endSessions(accountId, ids ?? null);
      const grants: string[] = [];
      const signedOut: { clientId: string; sid: string | undefined }[] = [];
      for (const payload of payloads) {
        for (const [clientId, authorization] of Object.entries(payload.authorizations ?? {})) {
          signedOut.push({ clientId, sid: authorization.sid });
          if (authorization.grantId && !authorization.persistsLogout) grants.push(authorization.grantId);
        }
      }
      if (grants.length) await models.revokeGrants(grants);
      return { ended: payloads.length, notices: await noticesFor(accountId, signedOut) };
    },

    async listGrants(accountId) {
      const rows = await models.grantsOf(accountId);
      return rows.map((row) => ({
        grantId: row.id,
        clientId: row.payload.clientId ?? '',
        scope: row.payload.openid?.scope ?? '',
        resources: row.payload.resources ?? {},
        grantedAt: row.created_at,
        expiresAt: row.expires_at ?? undefined,
      }));
    },

    async revokeGrants(accountId, clientId, options = {}) {
      const grantIds = await models.grantIdsOf(accountId, clientId ?? null);
      if (grantIds.length) await models.revokeGrants(grantIds);
      // What the user consented to goes with the grant, or the next sign-in would grant it again unasked.
      if (!options.keepConsent) await consents.forgetAccount(accountId, clientId);
      // The client is signed out of every session too: its sid there no longer stands for a grant.
      const sessions = await models.sessionsOf(accountId);
      const signedOut: { clientId: string; sid: string | undefined }[] = [];
      for (const session of sessions) {
        for (const [id, authorization] of Object.entries(session.payload.authorizations ?? {})) {
          if (clientId === undefined || id === clientId) signedOut.push({ clientId: id, sid: authorization.sid });
        }
      }
      if (signedOut.length) {
        const clientIds = [...new Set(signedOut.map((s) => s.clientId))];
        await models.forgetClientsInSessions(accountId, clientIds);
      }
      return { revoked: grantIds.length, notices: await noticesFor(accountId, signedOut) };
    },

    async endEverything(accountId) {
      const sessions = await accountSessions.endSessions(accountId);
      const grants = await accountSessions.revokeGrants(accountId);
      return { ended: sessions.ended, revoked: grants.revoked, notices: [...sessions.notices, ...grants.notices] };
    },
  };
  return accountSessions;
}
