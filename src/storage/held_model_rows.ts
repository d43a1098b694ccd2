import type { AdapterPayload } from 'oidc-provider';
import type { HeldPart, HeldStatement } from '../db/held_writes.js';
import type { ModelRow } from './oidc_models_store.js';

// The storage adapter's saves and deletes held until the request answers (db/held_writes.ts):
// at most one upsert of every row saved (a row saved twice in one request is saved as it was
// last) and one delete of every row deleted, sent inside the request's one statement. The
// adapter answers a read of a held row from here (read-your-writes), and sends what is held
// before a read that could see a held row under another key (postgres_adapter.ts).

/** What a write makes stale: read-cache tags (postgres_adapter.ts changedBy), and whether rows read ahead. */
export interface Staled {
  changed: string[] | 'all';
  forgetsReadAhead: boolean;
}

type Held = ({ kind: 'upsert'; row: ModelRow; payload: AdapterPayload } | { kind: 'delete' }) & { staled: Staled };

export interface HeldModelRows extends HeldPart {
  upsert(row: ModelRow, payload: AdapterPayload, staled: Staled): void;
  delete(model: string, id: string, staled: Staled): void;
  /** What is held for the row: a copy of the payload saved, `null` when deleted, undefined when nothing is held. */
  find(model: string, id: string): AdapterPayload | null | undefined;
  /** A held session with this uid, or undefined. */
  sessionByUid(uid: string): AdapterPayload | undefined;
  /** Whether a write of this model is held. */
  holds(model: string): boolean;
}

const pairKey = (model: string, id: string) => `${model}\u0000${id}`;

export function createHeldModelRows(statements: {
  upsert(rows: readonly ModelRow[]): HeldStatement;
  destroy(keys: readonly { model: string; id: string }[]): HeldStatement;
  /** what the rows' changes make stale (this process's read cache), called once they are written */
  written(staled: readonly Staled[]): void;
}): HeldModelRows {
  const held = new Map<string, Held & { model: string; id: string }>();
  let changes: Staled[] = [];

  return {
    upsert(row, payload, staled) {
      // Deleted and saved again (or saved twice): the last one stands, in the order held.
      const key = pairKey(row.model, row.id);
      held.delete(key);
      held.set(key, { kind: 'upsert', model: row.model, id: row.id, row, payload: structuredClone(payload), staled });
    },
    delete(model, id, staled) {
      const key = pairKey(model, id);
      held.delete(key);
      held.set(key, { kind: 'delete', model, id, staled });
    },
    find(model, id) {
      const found = held.get(pairKey(model, id));
      if (!found) return undefined;
      return found.kind === 'delete' ? null : structuredClone(found.payload);
    },
    sessionByUid(uid) {
      for (const found of held.values()) {
        if (found.kind === 'upsert' && found.model === 'Session' && found.payload.uid === uid) return structuredClone(found.payload);
      }
      return undefined;
    },
    get empty() {
      return held.size === 0;
    },
    holds(model) {
      for (const found of held.values()) if (found.model === model) return true;
      return false;
    },
    take() {
      const rows: ModelRow[] = [];
      const deleted: { model: string; id: string }[] = [];
      for (const found of held.values()) {
        if (found.kind === 'upsert') rows.push(found.row);
        else deleted.push({ model: found.model, id: found.id });
        changes.push(found.staled);
      }
      held.clear();
      const out: HeldStatement[] = [];
      // Each row appears once, in one of the two: their order in the statement does not matter.
      if (rows.length > 0) out.push(statements.upsert(rows));
      if (deleted.length > 0) out.push(statements.destroy(deleted));
      return out;
    },
    sent() {
      const done = changes;
      changes = [];
      statements.written(done);
    },
  };
}
