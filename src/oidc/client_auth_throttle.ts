import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { LIMITS_TABLE, limitsStoreClient } from '../accounts/login_throttle.js';

// Guessing a client's secret at the token, introspection, revocation or PAR endpoint: failed
// client authentications are counted per client in the sign-in limits table (so every instance
// on the database sees the same count); the Nth failure in the window locks that client for one
// window, during which even the right secret is refused. A success does not clear the count: an
// attacker's guesses interleaved with the real client's requests would otherwise never add up.

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

  return {
    async lockedFor(clientId) {
      const state = await limiter.get(clientId);
      return state && state.consumedPoints >= settings.maxFailures ? retryAfter(state) : 0;
    },

    async failed(clientId) {
      const res = await limiter.penalty(clientId);
      // One failure sees each count, so the lockout starts once; block() holds the count above
      // the limit for a whole window from now, however early in its window the limit was met.
      if (res.consumedPoints !== settings.maxFailures) return 0;
      await limiter.block(clientId, settings.windowSeconds);
      return settings.windowSeconds;
    },
  };
}
