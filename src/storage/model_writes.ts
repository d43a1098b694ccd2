import type { Db } from '../db/db.js';
import { perTurnBatch } from '../db/per_turn_batch.js';
import { createOidcModelsStore, type ModelRow } from './oidc_models_store.js';

// The storage adapter's two frequent writes (postgres_adapter.ts): saving a model and consuming
// a code or refresh token. A refresh is a consume and a save; the writes of the requests served
// in one turn of the event loop go out as one statement each (per_turn_batch.ts), like the
// reads. Each statement is atomic, and each caller learns its own outcome.

export type { ModelRow } from './oidc_models_store.js';

const pairKey = (model: string, id: string) => `${model}\u0000${id}`;

export interface ModelWrites {
  upsert(row: ModelRow): Promise<void>;
  /** True when this call consumed the row; false when it was consumed already (or is gone). */
  consume(model: string, id: string): Promise<boolean>;
}

export function createModelWrites(db: Db): ModelWrites {
  const store = createOidcModelsStore(db);
  const upsert = perTurnBatch<ModelRow, undefined>(async (rows) => {
    // One row may be saved twice in a turn (a session, by two requests of one browser); a
    // statement may change a row only once, and the later save is the one that stands.
    const last = new Map<string, ModelRow>();
    for (const row of rows) last.set(pairKey(row.model, row.id), row);
    await store.upsertMany([...last.values()]);
    return rows.map(() => undefined);
  });

  const consume = perTurnBatch<{ model: string; id: string }, boolean>(async (wanted) => {
    const consumed = new Set((await store.consumeMany(wanted)).map((r) => pairKey(r.model, r.id)));
    // A code or token presented twice in the same turn: the first caller has it, the other lost
    // the race exactly as if its statement had come second.
    return wanted.map((w) => consumed.delete(pairKey(w.model, w.id)));
  });

  return { upsert, consume: (model, id) => consume({ model, id }) };
}
