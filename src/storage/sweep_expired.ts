import type { Db } from '../db/db.js';
import { deleteInBatches } from '../db/delete_in_batches.js';
import { createOidcModelsStore } from './oidc_models_store.js';

// Expired rows are never returned by the adapter, but they take space: delete them in small
// batches so the sweep never holds long locks or bloats one transaction.

export async function sweepExpired(db: Db, batchSize = 5000, maxBatches = 1000): Promise<number> {
  const store = createOidcModelsStore(db);
  return deleteInBatches((limit) => store.deleteExpired(limit), batchSize, maxBatches);
}

export interface Sweeper {
  stop(): void;
}

export function startSweeper(db: Db, intervalMs: number, onResult: (deleted: number, error?: Error) => void): Sweeper {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpired(db)
      .then((deleted) => onResult(deleted))
      .catch((error: unknown) => onResult(0, error as Error))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
