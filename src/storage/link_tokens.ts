import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/db.js';

// Single-use links sent by mail (table link_tokens, migrations/0014). The token (32 random bytes,
// base64url) goes into the mail only; the table keeps its SHA-256. Creating a token for a
// purpose and user deletes that user's older tokens of the purpose (a newer link supersedes
// them); consuming marks it used in one statement, so two clicks cannot both succeed.

export type LinkPurpose = 'password_reset' | 'invitation' | 'verify_email' | 'change_email' | (string & {});

export interface LinkToken {
  purpose: string;
  sub: string;
  data: Record<string, unknown>;
  expiresAt: Date;
}

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();
const wellFormed = (token: string) => /^[A-Za-z0-9_-]{43}$/.test(token);

const SQL = {
  // One statement: the older tokens go as the new one is stored (no transaction to hold open).
  create: `WITH superseded AS (DELETE FROM link_tokens WHERE sub = $3 AND purpose = $2)
           INSERT INTO link_tokens (token_hash, purpose, sub, data, expires_at)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
  peek: `SELECT purpose, sub::text, data, expires_at FROM link_tokens
          WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`,
  consume: `UPDATE link_tokens SET used_at = now()
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING purpose, sub::text, data, expires_at`,
  revoke: `DELETE FROM link_tokens WHERE sub = $1 AND purpose = ANY($2::text[])`,
  sweep: `DELETE FROM link_tokens WHERE token_hash IN
            (SELECT token_hash FROM link_tokens WHERE expires_at < now() - interval '1 day' LIMIT $1)`,
} as const;

type Row = { purpose: string; sub: string; data: Record<string, unknown>; expires_at: Date };
const toToken = (r: Row): LinkToken => ({ purpose: r.purpose, sub: r.sub, data: r.data, expiresAt: new Date(r.expires_at) });

/**
 * Creates a token for `purpose` and `sub`, valid `ttlSeconds`; older tokens of the same purpose
 * and user stop working. Returns the token to put in the link (never store or log it).
 */
export async function createLinkToken(
  db: Db,
  { purpose, sub, ttlSeconds, data = {} }: { purpose: LinkPurpose; sub: string; ttlSeconds: number; data?: Record<string, unknown> },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db.query({ name: 'link_token_create', text: SQL.create, values: [hashToken(token), purpose, sub, JSON.stringify(data), ttlSeconds] });
  return token;
}

/** The token's owner and data if it is live (unused, unexpired, not superseded), without using it: for showing the form. */
export async function peekLinkToken(db: Db, purpose: LinkPurpose, token: string): Promise<LinkToken | undefined> {
  if (!wellFormed(token)) return undefined;
  const { rows } = await db.query<Row>({ name: 'link_token_peek', text: SQL.peek, values: [hashToken(token), purpose] });
  return rows[0] && toToken(rows[0]);
}

/** Uses the token: the first call on a live token returns it, every later one undefined. */
export async function consumeLinkToken(db: Pick<Db, 'query'>, purpose: LinkPurpose, token: string): Promise<LinkToken | undefined> {
  if (!wellFormed(token)) return undefined;
  const { rows } = await db.query<Row>({ name: 'link_token_consume', text: SQL.consume, values: [hashToken(token), purpose] });
  return rows[0] && toToken(rows[0]);
}

/** Kills every link of these purposes for the user (e.g. reset links once the password changed). */
export async function revokeLinkTokens(db: Pick<Db, 'query'>, sub: string, purposes: LinkPurpose[]): Promise<void> {
  await db.query({ name: 'link_token_revoke', text: SQL.revoke, values: [sub, purposes] });
}

/** Deletes up to `limit` tokens expired for more than a day; returns how many. */
export async function sweepLinkTokens(db: Db, limit: number): Promise<number> {
  const result = await db.query({ name: 'link_token_sweep', text: SQL.sweep, values: [limit] });
  return result.rowCount;
}
