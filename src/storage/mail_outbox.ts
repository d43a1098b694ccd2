import type { Db } from '../db/db.js';
import { expectRow } from '../db/expect_row.js';

// The mail waiting to be sent (table mail_outbox, migrations/0014): every statement on that
// table. Rendering, sending, retries and backoff are mail/mailer.ts.

export interface OutgoingMail {
  template: string;
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
  /** the user the message is about, when there is one (deleted with the user) */
  sub?: string | undefined;
}

export interface QueuedMail extends OutgoingMail {
  id: string;
  attempts: number;
}

const SQL = {
  enqueue: `INSERT INTO mail_outbox (template, recipient, subject, text_body, html_body, sub, next_attempt_at)
            VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
            RETURNING id::text, template, recipient, subject, text_body, html_body, sub::text, attempts`,
  claimDue: `UPDATE mail_outbox SET next_attempt_at = now() + make_interval(secs => $2)
              WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING id::text, template, recipient, subject, text_body, html_body, sub::text, attempts`,
  // The bodies (which carry the links) are dropped once sent: only the envelope stays for the sweep.
  sent: `UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1, text_body = '', html_body = NULL, last_error = NULL WHERE id = $1`,
  failed: `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
  drop: `DELETE FROM mail_outbox WHERE id = $1`,
  sweep: `DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at < now() - interval '1 day' LIMIT $1)`,
} as const;

type Row = {
  id: string;
  template: string;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  sub: string | null;
  attempts: number;
};
const toMail = (r: Row): QueuedMail => ({
  id: r.id,
  template: r.template,
  to: r.recipient,
  subject: r.subject,
  text: r.text_body,
  html: r.html_body ?? undefined,
  sub: r.sub ?? undefined,
  attempts: r.attempts,
});

/** Stores a message; `claimSeconds` hides it from the retry pass while the caller sends it itself. */
export async function storeMail(db: Db, mail: OutgoingMail, claimSeconds = 0): Promise<QueuedMail> {
  const { rows } = await db.query<Row>({
    name: 'mail_enqueue',
    text: SQL.enqueue,
    values: [mail.template, mail.to, mail.subject, mail.text, mail.html ?? null, mail.sub ?? null, claimSeconds],
  });
  return toMail(expectRow(rows, 'mail_enqueue'));
}

/** Claims up to `limit` messages that are due, hiding them from other senders for `claimSeconds`. */
export async function claimDueMail(db: Db, limit: number, claimSeconds: number): Promise<QueuedMail[]> {
  const { rows } = await db.query<Row>({ name: 'mail_claim', text: SQL.claimDue, values: [limit, claimSeconds] });
  return rows.map(toMail);
}

export async function markMailSent(db: Db, id: string): Promise<void> {
  await db.query({ name: 'mail_sent', text: SQL.sent, values: [id] });
}

export async function recordMailFailure(db: Db, id: string, error: string, delaySeconds: number): Promise<void> {
  await db.query({ name: 'mail_failed', text: SQL.failed, values: [id, error, delaySeconds] });
}

/** Given up on (after the last attempt). */
export async function dropMail(db: Db, id: string): Promise<void> {
  await db.query({ name: 'mail_drop', text: SQL.drop, values: [id] });
}

/** Deletes up to `limit` envelopes of mail sent more than a day ago; returns how many. */
export async function sweepSentMail(db: Db, limit: number): Promise<number> {
  const result = await db.query({ name: 'mail_sweep', text: SQL.sweep, values: [limit] });
  return result.rowCount;
}
