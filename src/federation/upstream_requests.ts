import { createHash } from 'node:crypto';
import type { Db } from '../db/db.js';

// Sign-ins in flight at an upstream (migrations/0013 `upstream_requests`): keyed by a hash of
// their `state`, bound to the Gatehouse interaction that started them, gone after ten minutes.

const TTL_SECONDS = 600;
const MAX_LINK_ATTEMPTS = 5;

/** What the callback decided; the interaction (which holds the browser's interaction cookie) acts on it. */
export type Outcome =
  | { kind: 'sign_in'; sub: string; idToken?: string | undefined; amr?: string[] | undefined; created: boolean }
  | { kind: 'link'; sub: string; issuer: string; upstreamSub: string; idToken?: string | undefined; amr?: string[] | undefined };

export interface PendingRequest {
  upstream_id: string;
  interaction_uid: string;
  nonce: string;
  code_verifier: string;
  outcome: Outcome | null;
}

const hashOf = (state: string) => createHash('sha256').update(state).digest('base64url');

export function createUpstreamRequests(db: Pick<Db, 'query'>) {
  return {
    async save(state: string, request: Omit<PendingRequest, 'outcome'>): Promise<void> {
      await db.query(`DELETE FROM upstream_requests WHERE expires_at < now()`);
      await db.query(
        `INSERT INTO upstream_requests (state_hash, upstream_id, interaction_uid, nonce, code_verifier, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => ${TTL_SECONDS}))`,
        [hashOf(state), request.upstream_id, request.interaction_uid, request.nonce, request.code_verifier],
      );
    },

    /** The callback's request for `state` at `upstreamId`, not yet answered: claimed once (no outcome can be written twice). */
    async claim(state: string, upstreamId: string): Promise<PendingRequest | undefined> {
      const { rows } = await db.query<PendingRequest>(
        `UPDATE upstream_requests SET outcome = '{"kind":"pending"}'
          WHERE state_hash = $1 AND upstream_id = $2 AND outcome IS NULL AND expires_at > now()
         RETURNING upstream_id, interaction_uid, nonce, code_verifier, NULL::jsonb AS outcome`,
        [hashOf(state), upstreamId],
      );
      return rows[0];
    },

    async decide(state: string, outcome: Outcome): Promise<void> {
      await db.query(`UPDATE upstream_requests SET outcome = $2 WHERE state_hash = $1`, [hashOf(state), JSON.stringify(outcome)]);
    },

    /** The decided request for `state`, for interaction `uid` only. */
    async decided(state: string, uid: string): Promise<{ upstream_id: string; outcome: Outcome } | undefined> {
      const { rows } = await db.query<{ upstream_id: string; outcome: Outcome }>(
        `SELECT upstream_id, outcome FROM upstream_requests
          WHERE state_hash = $1 AND interaction_uid = $2 AND expires_at > now() AND outcome->>'kind' IN ('sign_in', 'link')`,
        [hashOf(state), uid],
      );
      return rows[0];
    },

    async remove(state: string): Promise<void> {
      await db.query(`DELETE FROM upstream_requests WHERE state_hash = $1`, [hashOf(state)]);
    },

    /** Counts a wrong password on the link page; false once the request has had its attempts (it is then gone). */
    async failedLinkAttempt(state: string): Promise<boolean> {
      const { rows } = await db.query<{ attempts: number }>(`UPDATE upstream_requests SET attempts = attempts + 1 WHERE state_hash = $1 RETURNING attempts`, [
        hashOf(state),
      ]);
      const attempts = rows[0]?.attempts ?? MAX_LINK_ATTEMPTS;
      if (attempts < MAX_LINK_ATTEMPTS) return true;
      await db.query(`DELETE FROM upstream_requests WHERE state_hash = $1`, [hashOf(state)]);
      return false;
    },
  };
}

export type UpstreamRequests = ReturnType<typeof createUpstreamRequests>;
