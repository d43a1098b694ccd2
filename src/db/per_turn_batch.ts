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

export type Batched<I, O> = (item: I) => Promise<O>;

type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

/**
 * `run` receives the items in call order and returns one result per item, in the same order.
 * At most `maxItems` go into one call; more start another batch.
 */
export function perTurnBatch<I, O>(run: (items: readonly I[]) => Promise<readonly O[]>, maxItems = 64): Batched<I, O> {
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
