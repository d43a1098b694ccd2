import { describe, expect, it } from 'vitest';
import { perTurnBatch, type RunBatch } from '../../../src/db/per_turn_batch.js';

// The contract of a per-turn batch (Batched in per_turn_batch.ts), with a fake `run` that
// records the batches it is given: no database, no timers beyond the event loop's own turn.

/** A run that doubles each number, failing as the database would for the items in `refused`. */
function recordingRun(refused: { items: ReadonlySet<number>; error: Error } = { items: new Set(), error: new Error('unused') }) {
  const batches: number[][] = [];
  const run: RunBatch<number, number> = (items) => {
    batches.push([...items]);
    if (items.some((item) => refused.items.has(item))) return Promise.reject(refused.error);
    return Promise.resolve(items.map((item) => item * 2));
  };
  return { batches, run };
}

const dataError = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
const serverError = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

describe('perTurnBatch', () => {
  it('sends the calls of one turn as one batch, in call order, each caller getting its own result', async () => {
    const { batches, run } = recordingRun();
    const double = perTurnBatch(run);
    expect(await Promise.all([double(1), double(2), double(3)])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('starts a new batch beyond maxItems', async () => {
    const { batches, run } = recordingRun();
    const double = perTurnBatch(run, 2);
    expect(await Promise.all([1, 2, 3, 4, 5].map(double))).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails only the caller whose row the database refuses; the others get their results', async () => {
    const { batches, run } = recordingRun({ items: new Set([2]), error: dataError });
    const double = perTurnBatch(run);
    const outcomes = await Promise.allSettled([double(1), double(2), double(3)]);
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: dataError },
      { status: 'fulfilled', value: 6 },
    ]);
    // The whole batch once, then each item alone, in call order.
    expect(batches).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('fails every caller, without retrying, when the batch fails for anything but its data', async () => {
    const { batches, run } = recordingRun({ items: new Set([2]), error: serverError });
    const double = perTurnBatch(run);
    const outcomes = await Promise.allSettled([double(1), double(2), double(3)]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: serverError },
      { status: 'rejected', reason: serverError },
      { status: 'rejected', reason: serverError },
    ]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('sends a call made after its turn was sent (a read after a write) in a batch of its own', async () => {
    const sent: string[][] = [];
    const store = new Map<string, string>();
    // Writes and reads of one store, each batched; a read must see a write that completed.
    const write = perTurnBatch<[string, string], undefined>((items) => {
      sent.push(items.map(([key]) => `write ${key}`));
      for (const [key, value] of items) store.set(key, value);
      return Promise.resolve(items.map(() => undefined));
    });
    const read = perTurnBatch<string, string | undefined>((keys) => {
      sent.push(keys.map((key) => `read ${key}`));
      return Promise.resolve(keys.map((key) => store.get(key)));
    });
    await write(['a', 'new']);
    expect(await read('a')).toBe('new');
    expect(sent).toEqual([['write a'], ['read a']]);
  });

  it('puts a call made while its turn’s batch is running into the next batch', async () => {
    const batches: number[][] = [];
    let later: Promise<number> | undefined;
    const double = perTurnBatch<number, number>((items) => {
      batches.push([...items]);
      // A caller arriving while this batch is already being sent.
      later ??= double(10);
      return Promise.resolve(items.map((item) => item * 2));
    });
    expect(await double(1)).toBe(2);
    expect(await later).toBe(20);
    expect(batches).toEqual([[1], [10]]);
  });
});
