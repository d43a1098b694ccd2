import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';

// The oidc-provider storage adapter for every model it persists. Clients live in their own
// table (synced from the config file); every other model is a row of oidc_models.

// Models whose rows belong to a grant and go when the grant is revoked.
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

const SQL = {
  upsert: `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
             user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
  find: `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
         WHERE model = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > now())`,
  findByUid: `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
              WHERE model = $1 AND uid = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
  findByUserCode: `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
                   WHERE model = $1 AND user_code = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
  consume: `UPDATE oidc_models SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL`,
  destroy: `DELETE FROM oidc_models WHERE model = $1 AND id = $2`,
  // Every grantable artifact of the grant at once, whichever model asked.
  revokeByGrantId: `DELETE FROM oidc_models WHERE grant_id = $1`,
  clientFind: `SELECT metadata AS payload, NULL::bigint AS consumed FROM clients WHERE client_id = $1`,
  clientUpsert: `INSERT INTO clients (client_id, metadata, source) VALUES ($1, $2, 'adapter')
                 ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()`,
  clientDestroy: `DELETE FROM clients WHERE client_id = $1`,
} as const;

type Row = { payload: AdapterPayload; consumed: string | null };

function toPayload(rows: Row[]): AdapterPayload | undefined {
  const row = rows[0];
  if (!row) return undefined;
  return row.consumed === null ? row.payload : { ...row.payload, consumed: Number(row.consumed) };
}

export function createPostgresAdapter(db: Db): new (model: string) => Adapter {
  const q = (name: keyof typeof SQL, values: unknown[]) => db.query<Row>({ name: `oidc_${name}`, text: SQL[name], values });

  return class PostgresAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (this.model === 'Client') {
        await q('clientUpsert', [id, payload]);
        return;
      }
      const expiresAt = typeof expiresIn === 'number' && expiresIn > 0 ? new Date(Date.now() + expiresIn * 1000) : null;
      // `consumed` is kept in its own column; never let a stale copy in the payload override it.
      const { consumed: _consumed, ...rest } = payload;
      await q('upsert', [
        this.model,
        id,
        rest,
        GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresAt,
      ]);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return toPayload((await q('clientFind', [id])).rows);
      return toPayload((await q('find', [this.model, id])).rows);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload((await q('findByUid', [this.model, uid])).rows);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload((await q('findByUserCode', [this.model, userCode])).rows);
    }

    async consume(id: string): Promise<void> {
      await q('consume', [this.model, id]);
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Client') await q('clientDestroy', [id]);
      else await q('destroy', [this.model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await q('revokeByGrantId', [grantId]);
    }
  };
}
