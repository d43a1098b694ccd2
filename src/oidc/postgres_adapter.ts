import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
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
  consume: `UPDATE oidc_models SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL RETURNING id`,
  // A lost consume race is a replay: the whole grant goes, its Grant row included, so even the
  // winner's tokens stop working (they are checked against their grant on every use).
  revokeReplayed: `WITH replayed AS (SELECT grant_id FROM oidc_models WHERE model = $1 AND id = $2 AND grant_id IS NOT NULL)
                   DELETE FROM oidc_models WHERE grant_id IN (SELECT grant_id FROM replayed)
                      OR (model = 'Grant' AND id IN (SELECT grant_id FROM replayed))`,
  destroy: `DELETE FROM oidc_models WHERE model = $1 AND id = $2`,
  // Every grantable artifact of the grant at once, whichever model asked.
  revokeByGrantId: `DELETE FROM oidc_models WHERE grant_id = $1`,
  clientFind: `SELECT metadata AS payload, NULL::bigint AS consumed FROM clients WHERE client_id = $1`,
  clientUpsert: `INSERT INTO clients (client_id, metadata, source) VALUES ($1, $2, 'adapter')
                 ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()`,
  clientDestroy: `DELETE FROM clients WHERE client_id = $1`,
} as const;

type Row = { payload: AdapterPayload; consumed: string | null };

/**
 * How long a client read from the clients table is reused before it is read again. Every token,
 * introspection and userinfo request looks its client up, and the table changes only when the
 * config file is synced: without the cache that is a database round trip per request. Writes
 * through this adapter drop the entry at once; a change made by another instance (or process)
 * is seen within this time.
 */
const CLIENT_CACHE_TTL_MS = 5_000;

interface CachedClient {
  until: number;
  payload: Promise<AdapterPayload | undefined>;
}

/**
 * Found clients only: an unknown client_id is looked up every time, so a flood of made-up ids
 * cannot grow the cache. Concurrent look-ups of one id share a single query. Each caller gets
 * its own copy, so nothing the library does to a payload leaks into the next request.
 */
function createClientCache(load: (clientId: string) => Promise<AdapterPayload | undefined>, ttlMs: number) {
  const entries = new Map<string, CachedClient>();
  return {
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      let entry = entries.get(clientId);
      if (!entry || entry.until <= Date.now()) {
        const fresh: CachedClient = { until: Date.now() + ttlMs, payload: load(clientId) };
        entry = fresh;
        entries.set(clientId, fresh);
        fresh.payload.then(
          (payload) => {
            if (payload === undefined && entries.get(clientId) === fresh) entries.delete(clientId);
          },
          () => {
            if (entries.get(clientId) === fresh) entries.delete(clientId);
          },
        );
      }
      const payload = await entry.payload;
      return payload === undefined ? undefined : structuredClone(payload);
    },
    forget(clientId: string): void {
      entries.delete(clientId);
    },
  };
}

function toPayload(rows: Row[]): AdapterPayload | undefined {
  const row = rows[0];
  if (!row) return undefined;
  return row.consumed === null ? row.payload : { ...row.payload, consumed: Number(row.consumed) };
}

export function createPostgresAdapter(db: Db): new (model: string) => Adapter {
  const q = (name: keyof typeof SQL, values: unknown[]) => db.query<Row>({ name: `oidc_${name}`, text: SQL[name], values });
  const clients = createClientCache(async (id) => toPayload((await q('clientFind', [id])).rows), CLIENT_CACHE_TTL_MS);

  return class PostgresAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (this.model === 'Client') {
        try {
          await q('clientUpsert', [id, payload]);
        } finally {
          // A look-up that started during the write may have cached the old row.
          clients.forget(id);
        }
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
      if (this.model === 'Client') return clients.find(id);
      return toPayload((await q('find', [this.model, id])).rows);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload((await q('findByUid', [this.model, uid])).rows);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload((await q('findByUserCode', [this.model, userCode])).rows);
    }

    async consume(id: string): Promise<void> {
      // The library reads a code or refresh token, checks it is unused, then consumes it. Two
      // concurrent requests can both pass that check; only one of them may win here.
      const { rowCount } = await q('consume', [this.model, id]);
      if (rowCount === 0) {
        await q('revokeReplayed', [this.model, id]);
        throw new errors.InvalidGrant('grant request is invalid');
      }
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Client') {
        try {
          await q('clientDestroy', [id]);
        } finally {
          clients.forget(id);
        }
      } else await q('destroy', [this.model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await q('revokeByGrantId', [grantId]);
    }
  };
}
