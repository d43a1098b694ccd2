import type { Db } from '../db/db.js';
import type { AuditLog, AuditEvent } from '../audit/audit_log.js';

// A user takes back what they allowed an application (the account page's "Remove access"):
// the remembered consent goes, and so do the application's grants for this user with every
// token issued from them, so its refresh tokens stop working at once and the next sign-in asks
// for consent again. Audited as `consent.revoked`.

// Grants are oidc_models rows (postgres_adapter.ts) keyed by their plain id, which their tokens
// carry in `grant_id`; the library has no look-up of grants by account.
const REVOKE_GRANTS = `WITH grants AS (
    DELETE FROM oidc_models WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' = $2 RETURNING id
  ), tokens AS (
    DELETE FROM oidc_models WHERE grant_id IN (SELECT id FROM grants) RETURNING 1
  )
  SELECT (SELECT count(*) FROM grants)::int AS grants, (SELECT count(*) FROM tokens)::int AS tokens`;

export interface ConsentRevocation extends Pick<AuditEvent, 'ip' | 'userAgent'> {
  accountId: string;
  clientId: string;
}

export interface RevokedConsent {
  /** false when there was nothing to revoke (then nothing is audited) */
  revoked: boolean;
  grants: number;
  tokens: number;
}

export function createConsentRevoker({ db, audit }: { db: Db; audit: AuditLog }) {
  return async function revokeConsent({ accountId, clientId, ip, userAgent }: ConsentRevocation): Promise<RevokedConsent> {
    const { consents, grants, tokens } = await db.transaction(async (tx) => {
      const forgotten = await tx.query('DELETE FROM consents WHERE sub = $1 AND client_id = $2', [accountId, clientId]);
      const { rows } = await tx.query<{ grants: number; tokens: number }>(REVOKE_GRANTS, [accountId, clientId]);
      return { consents: forgotten.rowCount ?? 0, grants: rows[0]?.grants ?? 0, tokens: rows[0]?.tokens ?? 0 };
    });
    const revoked = consents + grants > 0;
    if (revoked) await audit.record({ event: 'consent.revoked', accountId, clientId, ip, userAgent, details: { grants_revoked: grants, tokens_revoked: tokens } });
    return { revoked, grants, tokens };
  };
}

export type RevokeConsent = ReturnType<typeof createConsentRevoker>;
