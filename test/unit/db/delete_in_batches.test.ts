import { describe, expect, it } from 'vitest';
import { deleteInBatches } from '../../../src/db/delete_in_batches.js';

// The sweeps' batched delete (db/delete_in_batches.ts), against a fake table of `rows` rows.

function fakeTable(rows: number) {
  const limits: number[] = [];
  const deleteBatch = (limit: number) => {
    limits.push(limit);
    const deleted = Math.min(limit, rows);
    rows -= deleted;
    return Promise.resolve(deleted);
  };
  return { limits, deleteBatch, left: () => rows };
}

describe('deleteInBatches', () => {
  it('deletes batch after batch until one comes back short, and returns the total', async () => {
    const table = fakeTable(12_000);
    expect(await deleteInBatches(table.deleteBatch, 5000)).toBe(12_000);
    expect(table.limits).toEqual([5000, 5000, 5000]);
  });

  it('asks once more after a full last batch, to learn nothing is left', async () => {
    const table = fakeTable(10_000);
    expect(await deleteInBatches(table.deleteBatch, 5000)).toBe(10_000);
    expect(table.limits).toEqual([5000, 5000, 5000]);
  });

  it('stops after maxBatches, leaving the rest to the next sweep', async () => {
    const table = fakeTable(100);
    expect(await deleteInBatches(table.deleteBatch, 10, 3)).toBe(30);
    expect(table.left()).toBe(70);
  });
});
