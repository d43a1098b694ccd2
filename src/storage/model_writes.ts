import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';
import { perTurnBatch } from '../db/per_turn_batch.js';

// The storage adapter's two frequent writes (postgres_adapter.ts): saving a model and consuming
// a code or refresh token. A refresh is a consume and a save; the writes of the requests served
// in one turn of the event loop go out as one statement each (per_turn_batch.ts), like the
// reads. Each statement is atomic, and each caller learns its own outcome.

export interface ModelRow {
  model: string;
  id: string;
  payload: AdapterPayload;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresAt: Date | null;
  accountId: string | null;
  clientInfo: { ip?: string; user_agent?: string } | null;
}

const UPSERT = `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at, account_id, client_info)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::jsonb[])
     ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
       user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
       account_id = excluded.account_id, client_info = coalesce(oidc_models.client_info, excluded.client_info),
       updated_at = now()`;

const CONSUME = `UPDATE oidc_models SET consumed_at = now()
     WHERE (model, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND consumed_at IS NULL
     RETURNING model, id`;

const pairKey = (model: string, id: string) => `${model}\u0000${id}`;

export interface ModelWrites {
  upsert(row: ModelRow): Promise<void>;
  /** True when this call consumed the row; false when it was consumed already (or is gone). */
  consume(model: string, id: string): Promise<boolean>;
}

export function createModelWrites(db: Db): ModelWrites {
  const upsert = perTurnBatch<ModelRow, undefined>(async (rows) => {
    // One row may be saved twice in a turn (a session, by two requests of one browser); a
    // statement may change a row only once, and the later save is the one that stands.
    const last = new Map<string, ModelRow>();
    for (const row of rows) last.set(pairKey(row.model, row.id), row);
    const unique = [...last.values()];
    const column = <K extends keyof ModelRow>(key: K) => unique.map((row) => row[key]);
    await db.query({
      name: 'oidc_upsertMany',
      text: UPSERT,
      values: [
        column('model'),
        column('id'),
        column('payload'),
        column('grantId'),
        column('userCode'),
        column('uid'),
        column('expiresAt'),
        column('accountId'),
        column('clientInfo'),
      ],
    });
    return rows.map(() => undefined);
  });

  const consume = perTurnBatch<{ model: string; id: string }, boolean>(async (wanted) => {
    const { rows } = await db.query<{ model: string; id: string }>({
      name: 'oidc_consumeMany',
      text: CONSUME,
      values: [wanted.map((w) => w.model), wanted.map((w) => w.id)],
    });
    const consumed = new Set(rows.map((r) => pairKey(r.model, r.id)));
    // A code or token presented twice in the same turn: the first caller has it, the other lost
    // the race exactly as if its statement had come second.
    return wanted.map((w) => consumed.delete(pairKey(w.model, w.id)));
  });

  return { upsert, consume: (model, id) => consume({ model, id }) };
}
