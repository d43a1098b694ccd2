// Calls made while the event loop works through one round of ready I/O (the requests that
// arrived together), gathered into one call of `run`, made right after that round
// (setImmediate). Each caller gets its own result, or the error of the whole batch.
//
// Why: sending a statement costs far more than running it. On the two-core machine of the
// benchmark, the write that wakes a Postgres backend was the largest single item of a userinfo
// or introspection request's CPU profile, and the backend's own per-statement work came on top.
// One statement for all the requests of a round pays that once. A lone request waits for
// nothing but the end of the round it arrived in.

export type Batched<I, O> = (item: I) => Promise<O>;

/**
 * `run` receives the items in call order and returns one result per item, in the same order.
 * At most `maxItems` go into one call; more start another batch.
 */
export function perTurnBatch<I, O>(run: (items: readonly I[]) => Promise<readonly O[]>, maxItems = 64): Batched<I, O> {
  let open: { items: I[]; results: Promise<readonly O[]> } | undefined;
  const start = () => {
    const items: I[] = [];
    const batch = {
      items,
      results: new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (open === batch) open = undefined;
        return run(items);
      }),
    };
    return batch;
  };
  return async (item) => {
    if (!open || open.items.length >= maxItems) open = start();
    const batch = open;
    const index = batch.items.push(item) - 1;
    return (await batch.results)[index]!;
  };
}
