import type { Db } from '../db/db.js';

// The back-channel logout notices waiting to be delivered (table backchannel_logouts): every
// statement on that table. Delivery, retries and backoff are logout/backchannel_logout_queue.ts.

export interface LogoutNotice {
  clientId: string;
  sub: string;
  /** the session's `sid` for that client, when the client wants it */
  sid?: string | undefined;
}

export interface QueuedNotice extends LogoutNotice {
  id: string;
  attempts: number;
}

const SQL = {
  enqueue: `INSERT INTO backchannel_logouts (client_id, sub, sid, next_attempt_at)
            SELECT client_id, sub, sid, now() + make_interval(secs => $4)
              FROM unnest($1::text[], $2::text[], $3::text[]) AS n (client_id, sub, sid)
            RETURNING id::text, client_id, sub, sid, attempts`,
  claimDue: `UPDATE backchannel_logouts SET next_attempt_at = now() + make_interval(secs => $2)
              WHERE id IN (SELECT id FROM backchannel_logouts WHERE next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING id::text, client_id, sub, sid, attempts`,
  delivered: `DELETE FROM backchannel_logouts WHERE id = $1`,
  failed: `UPDATE backchannel_logouts SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
} as const;

type Row = { id: string; client_id: string; sub: string; sid: string | null; attempts: number };
const toNotice = (r: Row): QueuedNotice => ({ id: r.id, clientId: r.client_id, sub: r.sub, sid: r.sid ?? undefined, attempts: r.attempts });

/**
 * Stores notices for delivery. `claimSeconds` hides them from the retry pass while the caller
 * sends them itself; with 0 (the CLI, which cannot sign logout tokens) the next retry pass of a
 * running server sends them.
 */
export async function storeLogoutNotices(db: Db, notices: LogoutNotice[], claimSeconds = 0): Promise<QueuedNotice[]> {
  if (notices.length === 0) return [];
  const { rows } = await db.query<Row>({
    name: 'backchannel_enqueue',
    text: SQL.enqueue,
    values: [notices.map((n) => n.clientId), notices.map((n) => n.sub), notices.map((n) => n.sid ?? null), claimSeconds],
  });
  return rows.map(toNotice);
}

/** Claims up to `limit` notices that are due, hiding them from other senders for `claimSeconds`. */
export async function claimDueNotices(db: Db, limit: number, claimSeconds: number): Promise<QueuedNotice[]> {
  const { rows } = await db.query<Row>({ name: 'backchannel_claim', text: SQL.claimDue, values: [limit, claimSeconds] });
  return rows.map(toNotice);
}

/** The notice is done with: acknowledged, given up, or its client no longer takes them. */
export async function deleteNotice(db: Db, id: string): Promise<void> {
  await db.query({ name: 'backchannel_delivered', text: SQL.delivered, values: [id] });
}

/** A failed attempt: counted, its error kept, and the next one due after `delaySeconds`. */
export async function recordFailedAttempt(db: Db, id: string, error: string, delaySeconds: number): Promise<void> {
  await db.query({ name: 'backchannel_failed', text: SQL.failed, values: [id, error, delaySeconds] });
}
