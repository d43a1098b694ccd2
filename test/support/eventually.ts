import { setTimeout as sleep } from 'node:timers/promises';

// Waiting for something another process or a timer does (a key refresh, a log line, a signal
// handled). Not a timed assertion: it only bounds how long a broken build makes the test hang,
// and the assertion that follows is about what happened, never about how soon.

export interface EventuallyOptions {
  /** give up after this long (generous: it only matters when something is broken) */
  timeoutMs?: number;
  intervalMs?: number;
  /** what was awaited, for the failure message */
  what?: string;
}

/** Thrown by a probe to stop waiting at once (say, the process it waits on has exited). */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

/** Calls `probe` until it returns something other than undefined/false/null, and returns that. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 100, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false && value !== null) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}${lastError ? `; last error: ${(lastError as Error).message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
