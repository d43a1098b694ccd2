import type { Db } from '../db/db.js';

// Expired rows are never returned by the adapter, but they take space: delete them in small
// batches so the sweep never holds long locks or bloats one transaction.

const BATCH_SQL = `DELETE FROM oidc_models WHERE (model, id) IN (
  SELECT model, id FROM oidc_models WHERE expires_at < now() LIMIT $1)`;

export async function sweepExpired(db: Db, batchSize = 5000, maxBatches = 1000): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const { rowCount } = await db.query({ name: 'sweep_expired', text: BATCH_SQL, values: [batchSize] });
    total += rowCount;
    if (rowCount < batchSize) break;
  }
  return total;
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
