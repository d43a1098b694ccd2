// Deleting every row that matches (expired tokens, old audit events) in one statement would hold
// its locks and grow one transaction for as long as it runs: the sweeps delete in small batches
// instead, each its own statement, until a batch comes back short.

/**
 * Calls `deleteBatch(batchSize)` (which deletes at most that many rows and returns how many it
 * did) until a batch deletes fewer than `batchSize`, or `maxBatches` have run; returns the total.
 */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number>, batchSize = 5000, maxBatches = 1000): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const deleted = await deleteBatch(batchSize);
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}
