import { AsyncLocalStorage } from 'node:async_hooks';
import { isDatabaseUnavailable } from '../core/database_unavailable.js';

// The writes of the request being served, held until its answer is about to be written and
// then sent as one statement (BENCHMARKS.md, "Statements per sign-in"). A sign-in's resume
// saves a grant, a code and a session and deletes an interaction: four round trips, now one.
//
// The rules, each one what keeps a held write from being lost or from hiding:
// - writes are held only inside a hold (withHeldWrites), which whoever opened it flushes before
//   the response is written: oidc-provider's routes (provider/flush_held_writes.ts) and our
//   pages (http/held_until_response.ts). Outside a hold (CLI, timers) every write goes at once;
// - a failed flush fails the request: its answer is an error, never a success whose writes are
//   lost. Parts marked `optional` (the audit trail, which must never break what it audits) are
//   sent again apart when the statement was refused (not for an outage), and their failure only logged;
// - whoever holds answers reads of what it holds (read-your-writes), and sends what is held
//   (flush) before a read or a write it cannot order after them (storage/held_model_rows.ts);
// - the statements of one hold are one request's: no other request's fate is tied to them.

/** One statement, with its own $1… parameters. */
export interface HeldStatement {
  text: string;
  values: unknown[];
}

/** A kind of held write (the storage adapter's rows, the audit trail), one per hold. */
export interface HeldPart {
  /** What is held, as statements to send (each one INSERT, UPDATE or DELETE, with no WITH of its own); emptied. */
  take(): HeldStatement[];
  /** whether anything is held */
  readonly empty: boolean;
  /** whether a refusal of its data may drop it (logged) instead of failing the request */
  readonly optional?: boolean;
  /** Called once what it gave was sent (or dropped): caches of what changed are refreshed. */
  sent?(): void;
  /** Called when its optional statements could not be written. */
  dropped?(error: unknown): void;
}

type Send = (statement: HeldStatement) => Promise<unknown>;

export interface WriteHold {
  /** This hold's part `name`, made by `make` (with how its statements are sent) on first use. */
  part<T extends HeldPart>(name: string, make: () => T, send: Send): T;
  /** Sends everything held, in one statement; nothing when nothing is held. Throws when it failed. */
  flush(): Promise<void>;
  /** whether anything is held (a flush would send a statement) */
  readonly empty: boolean;
  /**
   * The last flush, as the answer is about to be written: from now on nothing is held (a write
   * still under way once the answer is out, not awaited by the request, goes at once).
   */
  close(): Promise<void>;
  readonly closed: boolean;
}

const holds = new AsyncLocalStorage<WriteHold>();

/** The hold of the request being served, or undefined (then write at once). */
export function currentHold(): WriteHold | undefined {
  const hold = holds.getStore();
  return hold && !hold.closed ? hold : undefined;
}

/** Several statements as one: `WITH w0 AS (…), w1 AS (…) SELECT 1`, parameters numbered on. */
export function asOneStatement(statements: readonly HeldStatement[]): HeldStatement {
  const [only] = statements;
  if (only && statements.length === 1) return only;
  const values: unknown[] = [];
  const parts = statements.map((statement, i) => {
    const offset = values.length;
    values.push(...statement.values);
    return `w${i} AS (${statement.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
  });
  return { text: `WITH ${parts.join(',\n')}\nSELECT 1`, values };
}

function createHold(): WriteHold {
  const parts = new Map<string, { part: HeldPart; send: Send }>();
  // One flush at a time: a second one waits for the first, so writes go out in the order held.
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  async function sendHeld(): Promise<void> {
    const taken = [...parts.values()].map(({ part, send }) => ({ part, send, statements: part.take() })).filter((t) => t.statements.length > 0);
    const [first] = taken;
    if (!first) return;
    const send = first.send;
    try {
      try {
        await send(asOneStatement(taken.flatMap((t) => t.statements)));
      } catch (error) {
        const optional = taken.filter((t) => t.part.optional);
        if (optional.length === 0 || isDatabaseUnavailable(error)) throw error;
        // Refused (for its data, a trigger, a constraint): what must be written goes alone, and
        // fails the request if it fails; the optional parts go after it, each on its own.
        const required = taken.filter((t) => !t.part.optional).flatMap((t) => t.statements);
        if (required.length > 0) await send(asOneStatement(required));
        for (const t of optional) await t.send(asOneStatement(t.statements)).catch((dropped: unknown) => t.part.dropped?.(dropped));
      }
    } finally {
      for (const t of taken) t.part.sent?.();
    }
  }

  return {
    part<T extends HeldPart>(name: string, make: () => T, send: Send): T {
      let entry = parts.get(name);
      if (!entry) {
        entry = { part: make(), send };
        parts.set(name, entry);
      }
      return entry.part as T;
    },
    get empty() {
      return [...parts.values()].every(({ part }) => part.empty);
    },
    flush() {
      const next = flushing.then(sendHeld);
      flushing = next.catch(() => undefined);
      return next;
    },
    get closed() {
      return closed;
    },
    close() {
      closed = true;
      return this.flush();
    },
  };
}

/** Runs `fn` with a hold of its own; the caller flushes it (the hold is passed) before answering. */
export function withHeldWrites<T>(fn: (hold: WriteHold) => T): T {
  const hold = createHold();
  return holds.run(hold, () => fn(hold));
}
