import type { Db } from '../db/db.js';
import type { LogoutNotice } from './logout_notices.js';

// A user's sign-in sessions and app grants as stored by the adapter, for the places that end
// them from outside the protocol: `gatehouse sessions`, `users disable|delete` and /account.
// Ending a session does what the end-session endpoint does (its grants and their tokens go,
// unless the library marked a grant to outlive logout) and returns the back-channel logout
// notices owed to the clients that session signed in to. Sessions are named by their storage
// key (a hash of the cookie value): showing it reveals nothing usable.

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

interface Authorization {
  sid?: string;
  grantId?: string;
  persistsLogout?: boolean;
}

interface SessionPayload {
  accountId?: string;
  loginTs?: number;
  authorizations?: Record<string, Authorization>;
}

interface GrantPayload {
  clientId?: string;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

const LIVE = `(expires_at IS NULL OR expires_at > now())`;

const SQL = {
  sessions: `SELECT id, payload, client_info, updated_at, expires_at FROM oidc_models
              WHERE account_id = $1 AND model = 'Session' AND ${LIVE} ORDER BY updated_at DESC`,
  sessionsByPrefix: `SELECT id, account_id FROM oidc_models
                      WHERE model = 'Session' AND starts_with(id, $1) AND ${LIVE} LIMIT 2`,
  deleteSessions: `DELETE FROM oidc_models WHERE model = 'Session' AND account_id = $1 AND ($2::text[] IS NULL OR id = ANY($2))
                   RETURNING payload`,
  grants: `SELECT id, payload, created_at, expires_at FROM oidc_models
            WHERE account_id = $1 AND model = 'Grant' AND ${LIVE} ORDER BY created_at DESC`,
  // A grant and everything issued under it (codes, access and refresh tokens).
  revokeGrants: `DELETE FROM oidc_models WHERE grant_id = ANY($1) OR (model = 'Grant' AND id = ANY($1))`,
  accountGrants: `SELECT id FROM oidc_models WHERE account_id = $1 AND model = 'Grant' AND ($2::text IS NULL OR payload ->> 'clientId' = $2)`,
  // A client whose access is revoked no longer counts as signed in to the account's sessions, so
  // a later sign-out does not notify it a second time.
  forgetClientsInSessions: `UPDATE oidc_models SET payload = jsonb_set(payload, '{authorizations}', (payload -> 'authorizations') - $2::text[])
                             WHERE model = 'Session' AND account_id = $1 AND payload -> 'authorizations' ?| $2::text[]`,
  // What the user consented to goes with the grant, or the next sign-in would grant it again unasked.
  forgetConsents: `DELETE FROM consents WHERE sub = $1::uuid AND ($2::text IS NULL OR client_id = $2)`,
  backchannelClients: `SELECT client_id FROM clients WHERE client_id = ANY($1) AND metadata ->> 'backchannel_logout_uri' IS NOT NULL`,
} as const;

type SessionRow = { id: string; payload: SessionPayload; client_info: { ip?: string; user_agent?: string } | null; updated_at: Date; expires_at: Date | null };
type GrantRow = { id: string; payload: GrantPayload; created_at: Date; expires_at: Date | null };

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
  /** Notices for the clients (among those named) that take back-channel logouts. */
  async function noticesFor(accountId: string, pairs: { clientId: string; sid: string | undefined }[]): Promise<LogoutNotice[]> {
    if (pairs.length === 0) return [];
    const { rows } = await db.query<{ client_id: string }>({
      name: 'account_backchannel_clients',
      text: SQL.backchannelClients,
      values: [[...new Set(pairs.map((p) => p.clientId))]],
    });
    const takes = new Set(rows.map((r) => r.client_id));
    return pairs.filter((p) => takes.has(p.clientId)).map((p) => ({ clientId: p.clientId, sub: accountId, sid: p.sid }));
  }

  const accountSessions: AccountSessions = {
    async listSessions(accountId) {
      const { rows } = await db.query<SessionRow>({ name: 'account_sessions', text: SQL.sessions, values: [accountId] });
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
      const { rows } = await db.query<{ id: string; account_id: string }>({ name: 'account_session_prefix', text: SQL.sessionsByPrefix, values: [prefix] });
      if (rows.length > 1) return 'ambiguous';
      return rows[0] ? { id: rows[0].id, accountId: rows[0].account_id } : undefined;
    },

    async endSessions(accountId, ids) {
      const { rows } = await db.query<{ payload: SessionPayload }>({
        name: 'account_end_sessions',
        text: SQL.deleteSessions,
        values: [accountId, ids ?? null],
      });
      const grants: string[] = [];
      const signedOut: { clientId: string; sid: string | undefined }[] = [];
      for (const { payload } of rows) {
        for (const [clientId, authorization] of Object.entries(payload.authorizations ?? {})) {
          signedOut.push({ clientId, sid: authorization.sid });
          if (authorization.grantId && !authorization.persistsLogout) grants.push(authorization.grantId);
        }
      }
      if (grants.length) await db.query({ name: 'account_revoke_grants', text: SQL.revokeGrants, values: [grants] });
      return { ended: rows.length, notices: await noticesFor(accountId, signedOut) };
    },

    async listGrants(accountId) {
      const { rows } = await db.query<GrantRow>({ name: 'account_grants', text: SQL.grants, values: [accountId] });
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
      const { rows } = await db.query<{ id: string }>({ name: 'account_grant_ids', text: SQL.accountGrants, values: [accountId, clientId ?? null] });
      const grantIds = rows.map((r) => r.id);
      if (grantIds.length) await db.query({ name: 'account_revoke_grants', text: SQL.revokeGrants, values: [grantIds] });
      if (!options.keepConsent) await db.query({ name: 'account_forget_consents', text: SQL.forgetConsents, values: [accountId, clientId ?? null] });
      // The client is signed out of every session too: its sid there no longer stands for a grant.
      const sessions = await db.query<SessionRow>({ name: 'account_sessions', text: SQL.sessions, values: [accountId] });
      const signedOut: { clientId: string; sid: string | undefined }[] = [];
      for (const session of sessions.rows) {
        for (const [id, authorization] of Object.entries(session.payload.authorizations ?? {})) {
          if (clientId === undefined || id === clientId) signedOut.push({ clientId: id, sid: authorization.sid });
        }
      }
      if (signedOut.length) {
        const clientIds = [...new Set(signedOut.map((s) => s.clientId))];
        await db.query({ name: 'account_forget_clients_in_sessions', text: SQL.forgetClientsInSessions, values: [accountId, clientIds] });
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
