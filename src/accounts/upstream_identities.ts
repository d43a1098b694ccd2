import type { Db } from '../db/db.js';
import { GatehouseError } from '../core/errors.js';
import { expectRow } from '../db/expect_row.js';

// Linked upstream identities (migrations/0013): which local user an upstream's (issuer, sub)
// signs in as. Written only by the federation flow; listed and unlinked on /account.

export interface UpstreamIdentity {
  id: string;
  upstream_id: string;
  issuer: string;
  upstream_sub: string;
  sub: string;
  created_at: Date;
  last_used_at: Date;
}

const COLUMNS = 'id::text AS id, upstream_id, issuer, upstream_sub, sub::text AS sub, created_at, last_used_at';

/** The upstream identity is already linked to (another) local account. */
export class IdentityTaken extends GatehouseError {
  constructor() {
    super('ERR_IDENTITY_LINKED', 'this upstream account is already linked to a Gatehouse account', {
      status: 409,
      error: 'invalid_request',
      description: 'this upstream account is already linked to another Gatehouse account',
    });
  }
}

export function createUpstreamIdentities(db: Pick<Db, 'query' | 'transaction'>) {
  return {
    /** The local user the upstream identity signs in as; marks it used. */
    async use(issuer: string, upstreamSub: string): Promise<UpstreamIdentity | undefined> {
      const { rows } = await db.query<UpstreamIdentity>(
        `UPDATE upstream_identities SET last_used_at = now() WHERE issuer = $1 AND upstream_sub = $2 RETURNING ${COLUMNS}`,
        [issuer, upstreamSub],
      );
      return rows[0];
    },

    async link(identity: { upstreamId: string; issuer: string; upstreamSub: string; sub: string }): Promise<UpstreamIdentity> {
      try {
        const { rows } = await db.query<UpstreamIdentity>(
          `INSERT INTO upstream_identities (upstream_id, issuer, upstream_sub, sub) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
          [identity.upstreamId, identity.issuer, identity.upstreamSub, identity.sub],
        );
        return expectRow(rows, 'INSERT INTO upstream_identities');
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw new IdentityTaken();
        throw error;
      }
    },

    async listFor(sub: string): Promise<UpstreamIdentity[]> {
      const { rows } = await db.query<UpstreamIdentity>(`SELECT ${COLUMNS} FROM upstream_identities WHERE sub = $1 ORDER BY created_at, id`, [sub]);
      return rows;
    },

    /**
     * Removes one of the user's linked identities, only while another way to sign in remains (a
     * password, or another linked identity): in one statement, so two unlinks at once cannot
     * leave the account with none. Returns what happened.
     */
    async unlink(sub: string, id: string): Promise<'unlinked' | 'last_sign_in' | 'not_found'> {
      if (!/^\d{1,18}$/.test(id)) return 'not_found';
      // The user's row is locked first: a second unlink (or a password change) waits for this one.
      return db.transaction(async (client) => {
        const { rows } = await client.query<{ has_password: boolean }>(
          `SELECT password_hash IS NOT NULL AS has_password FROM users WHERE sub = $1 FOR UPDATE`,
          [sub],
        );
        const user = rows[0];
        if (!user) return 'not_found';
        const { rows: linked } = await client.query<{ id: string }>(`SELECT id::text AS id FROM upstream_identities WHERE sub = $1`, [sub]);
        if (!linked.some((row) => row.id === id)) return 'not_found';
        if (!user.has_password && linked.length < 2) return 'last_sign_in';
        await client.query(`DELETE FROM upstream_identities WHERE sub = $1 AND id = $2::bigint`, [sub, id]);
        return 'unlinked';
      });
    },
  };
}

export type UpstreamIdentities = ReturnType<typeof createUpstreamIdentities>;
