import { AsyncLocalStorage } from 'node:async_hooks';

// Rows read ahead, for the request being served. The storage adapter reads a token together
// with its grant, its session and its user in one statement (storage/token_reads.ts), and keeps
// those for the look-ups oidc-provider makes next in the same request (Grant.find,
// Session.findByUid, findAccount), which then cost no round trip.
//
// The rules, each one what keeps a kept row from being served when the database says otherwise:
// - a row is kept only inside a request (trackRequestContext runs each one in withReadAhead),
//   and only that request can take it: nothing is shared between requests or outlives one;
// - a row is handed out once: a second look-up reads the database again;
// - after a write of the request that may change a kept row (forgetAll, as the write starts and
//   as it ends: a grant or a session saved or deleted, a grant revoked), everything kept before
//   is gone, and rows of a read that was under way meanwhile are not kept: they may predate the
//   write. Writes of the other kinds (tokens, codes, interactions; consuming a code) change no
//   kept row and forget nothing (storage/postgres_adapter.ts).

export interface ReadAhead {
  /**
   * Call before sending a read whose extra rows will be kept: the returned `keep` keeps them,
   * unless the request wrote something since (or there is no request).
   */
  begin(): { keep(key: string, row: unknown): void };
  /** The row kept under `key`, once; undefined when there is none (then read the database). */
  take(key: string): unknown;
  /**
   * A write of this request: rows read before it may be out of date. Called as the write starts
   * and again once it is done (storage/postgres_adapter.ts), so that the rows of a read that
   * overlapped the write are not served either.
   */
  forgetAll(): void;
}

interface Kept {
  rows: Map<string, unknown> | undefined;
  /** how many times this request has written: a read begun before a write keeps nothing */
  writes: number;
  /** what else travels with the request (request_context.ts), in the same store */
  context: unknown;
}

// One store per request for the rows and the request's context alike: every `run` of an
// AsyncLocalStorage copies the async context, and every request would otherwise pay for two.
const requests = new AsyncLocalStorage<Kept>();

/** Runs `fn` as one request: what is kept inside can be taken only inside; `context` is `requestContext()` there. */
export function withReadAhead<T>(fn: () => T, context?: unknown): T {
  return requests.run({ rows: undefined, writes: 0, context }, fn);
}

/** The `context` the request being served was started with (withReadAhead), if any. */
export function requestContext(): unknown {
  return requests.getStore()?.context;
}

const keepNothing = { keep: () => undefined };

export const readAhead: ReadAhead = {
  begin() {
    const kept = requests.getStore();
    if (!kept) return keepNothing;
    const writes = kept.writes;
    return {
      keep(key, row) {
        if (row === undefined || kept.writes !== writes) return;
        (kept.rows ??= new Map()).set(key, row);
      },
    };
  },

  take(key) {
    const rows = requests.getStore()?.rows;
    const row = rows?.get(key);
    if (row !== undefined) rows?.delete(key);
    return row;
  },

  forgetAll() {
    const kept = requests.getStore();
    if (!kept) return;
    kept.writes++;
    kept.rows?.clear();
  },
};
