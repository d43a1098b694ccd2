import type { Db } from '../../src/db/db.js';

// A user's own claims (users.claims, roles among them) written straight to the database, as an
// admin's change would leave them, for tests of what tokens carry.

/** Replaces `username`'s claims with `claims`. */
export async function setUserClaims(db: Db, username: string, claims: Record<string, unknown>): Promise<void> {
  const { rowCount } = await db.query(`UPDATE users SET claims = $1::jsonb, updated_at = now() WHERE username = $2`, [JSON.stringify(claims), username]);
  if (rowCount !== 1) throw new Error(`no user ${username}`);
}
