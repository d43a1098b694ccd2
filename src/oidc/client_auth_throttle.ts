import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { LIMITS_TABLE, limitsStoreClient } from '../accounts/login_throttle.js';

// Guessing a client's secret at the token, introspection, revocation or PAR endpoint: failed
// client authentications are counted per client in the sign-in limits table (so every instance
// on the database sees the same count); the Nth failure in the window locks that client for one
// window, during which even the right secret is refused. A success does not clear the count: an
// attacker's guesses interleaved with the real client's requests would otherwise never add up.
//
// Reading the count is kept off the common path: a client's every token, introspection and
// revocation request asks whether it is locked, and reading the row each time was one database
// round trip per request for a client that almost never fails. So:
// - a client that failed here (in this process) within the window is read on every request:
//   locally the lockout is exact, from the failure that starts it to the end of its window;
// - any other client's "not locked" answer is reused for UNLOCKED_FRESH_MS, then read again.
// The trade-off: a lockout started by failures at another instance (or another worker) is
// honoured here up to UNLOCKED_FRESH_MS late, or at once on this process's first failure of that
// client (counting it reads the shared count). Within that second this process may admit
// requests of a locked client: a right secret succeeds as it would have a moment before the
// lock; a wrong one is counted like any other and switches this process to reading every time.
// The read was never atomic with the count either: guesses sent in parallel all pass the check
// before the first of them is counted, here or elsewhere.

export interface ClientAuthThrottleSettings {
  maxFailures: number;
  windowSeconds: number;
}

export interface ClientAuthThrottle {
  /** Seconds until `clientId` may try again; 0 when it is not locked. */
  lockedFor(clientId: string): Promise<number>;
  /** Counts a failed authentication of a known client; returns the lockout it started, in seconds, or 0. */
  failed(clientId: string): Promise<number>;
}

const retryAfter = (res: Pick<RateLimiterRes, 'msBeforeNext'>) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** How long a "not locked" read from the database is believed for a client that has not failed here. */
export const UNLOCKED_FRESH_MS = 1_000;

export function createClientAuthThrottle(db: Db, settings: ClientAuthThrottleSettings): ClientAuthThrottle {
  // Keys are `client:<client_id>`: only registered clients are counted, so the table holds at
  // most one row per client and an operator can lift a lockout by deleting that row.
  const limiter = new RateLimiterPostgres({
    storeClient: limitsStoreClient(db),
    storeType: 'pool',
    tableName: LIMITS_TABLE,
    tableCreated: true,
    clearExpiredByTimeout: false, // login_throttle.ts's account limiter clears the shared table
    keyPrefix: 'client',
    points: settings.maxFailures,
    duration: settings.windowSeconds,
  });

  // Both maps are keyed by registered clients only (see lockedFor's caller), so they stay small.
  const failedHereUntil = new Map<string, number>();
  const unlockedReadAt = new Map<string, number>();
  const windowMs = settings.windowSeconds * 1000;

  return {
    async lockedFor(clientId) {
      const now = Date.now();
      const failedHere = (failedHereUntil.get(clientId) ?? 0) > now;
      if (!failedHere && now - (unlockedReadAt.get(clientId) ?? -Infinity) < UNLOCKED_FRESH_MS) return 0;
      const state = await limiter.get(clientId);
      if (state && state.consumedPoints >= settings.maxFailures) {
        unlockedReadAt.delete(clientId);
        return retryAfter(state);
      }
      // Dated from before the read: the answer is at least that old.
      unlockedReadAt.set(clientId, now);
      return 0;
    },

    async failed(clientId) {
      // Set before counting (requests meanwhile read the row) and again after: a lockout this
      // failure starts runs one window from a moment after this one.
      failedHereUntil.set(clientId, Date.now() + windowMs);
      unlockedReadAt.delete(clientId);
      try {
        return await countFailure(clientId);
      } finally {
        failedHereUntil.set(clientId, Date.now() + windowMs);
      }
    },
  };

  async function countFailure(clientId: string): Promise<number> {
    const res = await limiter.penalty(clientId);
    // One failure sees each count, so the lockout starts once; block() holds the count above
    // the limit for a whole window from now, however early in its window the limit was met.
    if (res.consumedPoints !== settings.maxFailures) return 0;
    await limiter.block(clientId, settings.windowSeconds);
    return settings.windowSeconds;
  }
}
