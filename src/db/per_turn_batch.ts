import { isRowDataError } from './row_data_error.js';

// Calls made while the event loop works through one round of ready I/O (the requests that
// arrived together), gathered into one call of `run`, made right after that round
// (setImmediate). Each caller gets its own result, or its own error.
//
// Why: sending a statement costs far more than running it. On the two-core machine of the
// benchmark, the write that wakes a Postgres backend was the largest single item of a userinfo
// or introspection request's CPU profile, and the backend's own per-statement work came on top.
// One statement for all the requests of a round pays that once. A lone request waits for
// nothing but the end of the round it arrived in.
//
// One statement also couples the fates of its rows: a row the database refuses (a string it
// cannot store) fails them all, and another user's refresh, whose old token was consumed in the
// same turn, would lose its new one. So when the database refuses a batch for its data
// (row_data_error.ts), each item is run again on its own, in call order: only the bad item's
// caller gets the error.

/**
 * One statement's worth of work: receives the items in call order and returns one result per
 * item, in the same order. After a failure for its data (row_data_error.ts) it is called again
 * with one item at a time, so it must be safe to run again for the items of a failed call.
 */
export type RunBatch<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

/**
 * A call of a batched function (what perTurnBatch returns). The contract:
 * - the calls made in one turn of the event loop, before that turn's batch runs (setImmediate),
 *   go to one `run`, in call order; beyond `maxItems` calls, the next calls start another batch,
 *   run right after in the same way;
 * - a call made once its turn's batch has started running goes to the next batch, never into
 *   one already sent: a read made after a write is never answered by a statement sent before;
 * - each caller gets the result at its own index, or its own error: a batch refused for its data
 *   is run again item by item, in call order, and only the refused items' callers fail;
 * - any other failure (lost connection, timeout, overloaded server) fails every call of that
 *   batch with the same error, and is not retried.
 */
export type Batched<I, O> = (item: I) => Promise<O>;

type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** Batches the calls of `run` per turn of the event loop (the contract is Batched's). */
export function perTurnBatch<I, O>(run: RunBatch<I, O>, maxItems = 64): Batched<I, O> {
  const runIsolated = async (items: readonly I[]): Promise<Outcome<O>[]> => {
    try {
      return (await run(items)).map((value) => ({ ok: true, value }));
    } catch (error) {
      if (items.length === 1 || !isRowDataError(error)) return items.map(() => ({ ok: false, error }));
      const outcomes: Outcome<O>[] = [];
      for (const item of items) {
        try {
          // One item in, one result out (which may itself be undefined, for an O of undefined).
          const [value] = await run([item]);
          outcomes.push({ ok: true, value: value as O });
        } catch (alone) {
          outcomes.push({ ok: false, error: alone });
        }
      }
      return outcomes;
    }
  };
  let open: { items: I[]; results: Promise<Outcome<O>[]> } | undefined;
  const start = () => {
    const items: I[] = [];
    const batch = {
      items,
      results: new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (open === batch) open = undefined;
        return runIsolated(items);
      }),
    };
    return batch;
  };
  return async (item) => {
    if (!open || open.items.length >= maxItems) open = start();
    const batch = open;
    const index = batch.items.push(item) - 1;
    const outcome = (await batch.results)[index];
    if (!outcome) throw new Error('perTurnBatch: run returned fewer results than items');
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  };
}
