import type { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { createLimiter } from './login_throttle.js';
import type { ThrottleKeys } from './throttle_keys.js';

// Guessing a client's secret at the token, introspection, revocation or PAR endpoint. Failed
// client authentications are counted in the sign-in limits table (every instance on the
// database sees the same counts) per client AND source address: the Nth failure in the window
// locks that pair for one window, during which its attempts are refused (429) without the
// secret being checked, the right one included. The same client from any other address is not
// affected: client ids are public, so a lock on the client itself would let anyone shut a
// confidential client out with ten bad requests.
//
// A guesser spreading over many addresses gets N guesses per address per window. Nothing that
// refuses the right secret can stop that without handing the same one-line denial of service
// back, so failures are also counted per client across all addresses: past SLOW_FACTOR x N in
// the window, every authentication of that client waits SLOW_MS before its secret is checked
// (slower for everyone, refused for no one), and the audit trail and metrics say it is under
// attack. What really defeats a distributed guesser is the secret itself: a long random one
// (README) is out of reach of any number of addresses.
//
// Reading the counts is kept off the common path: a client's every token, introspection and
// revocation request asks whether it is locked, and reading the rows each time was one database
// round trip per request for a client that almost never fails. So:
// - a pair that failed here (in this process) within the window is read on every request:
//   locally the lockout is exact, from the failure that starts it to the end of its window;
// - any other pair's "not locked" answer (and a client's "not slowed") is reused for
//   FRESH_MS, then read again.
// The trade-off: a lockout started by failures at another instance (or another worker) is
// honoured here up to FRESH_MS late, or at once on this process's first failure of that pair.

export interface ClientAuthThrottleSettings {
  maxFailures: number;
  windowSeconds: number;
}

export interface ClientAuthThrottle {
  /** Seconds until `clientId` may try again from `ip`; 0 when it is not locked there. */
  lockedFor(clientId: string, ip: string | undefined): Promise<number>;
  /** Milliseconds every authentication of `clientId` should wait first (0 unless it is under attack). */
  slowdownFor(clientId: string): Promise<number>;
  /**
   * Whether `lockedFor` and `slowdownFor` would both answer 0 without reading anything: asked
   * first on every authentication, so the common case costs no promise (false means: ask them).
   */
  knownClear(clientId: string, ip: string | undefined): boolean;
  /** Counts a failed authentication of a known client from `ip`; returns the lockout it started, in seconds, or 0. */
  failed(clientId: string, ip: string | undefined): Promise<number>;
}

const retryAfter = (res: Pick<RateLimiterRes, 'msBeforeNext'>) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** How long a "not locked" / "not slowed" read from the database is believed. */
const UNLOCKED_FRESH_MS = 1_000;
/** Failures of one client from all addresses, as a multiple of the per-address limit, that slow it down. */
const SLOW_FACTOR = 10;
const SLOW_MS = 1_000;
/** Cached answers kept at most; past it the oldest are forgotten (and read again when needed). */
const MAX_CACHED = 10_000;

export function createClientAuthThrottle(db: Db, keys: ThrottleKeys, settings: ClientAuthThrottleSettings): ClientAuthThrottle {
  // `client_ip:<HMAC of client and address>`: only registered clients are counted.
  const pairs = createLimiter(db, 'client_ip', settings.maxFailures, settings.windowSeconds);
  // `client:<client_id>`: all failures of a client, whatever their source.
  const slowAt = settings.maxFailures * SLOW_FACTOR;
  const clients = createLimiter(db, 'client', slowAt, settings.windowSeconds);

  // Keyed by registered clients (and their source addresses) only, and bounded.
  const failedHereUntil = new Map<string, number>();
  const unlockedReadAt = new Map<string, number>();
  const slowReadAt = new Map<string, { at: number; ms: number }>();
  const windowMs = settings.windowSeconds * 1000;
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key);
    map.set(key, value);
    const oldest = map.keys().next();
    if (map.size > MAX_CACHED && !oldest.done) map.delete(oldest.value);
  };

  const knownUnlocked = (key: string, now: number) =>
    (failedHereUntil.get(key) ?? 0) <= now && now - (unlockedReadAt.get(key) ?? -Infinity) < UNLOCKED_FRESH_MS;
  const knownSlowdown = (clientId: string, now: number) => {
    const cached = slowReadAt.get(clientId);
    return cached && now - cached.at < UNLOCKED_FRESH_MS ? cached.ms : undefined;
  };

  return {
    knownClear(clientId, ip) {
      const now = Date.now();
      return knownSlowdown(clientId, now) === 0 && knownUnlocked(keys.clientSource(clientId, ip), now);
    },

    async lockedFor(clientId, ip) {
      const key = keys.clientSource(clientId, ip);
      const now = Date.now();
      if (knownUnlocked(key, now)) return 0;
      const state = await pairs.get(key);
      if (state && state.consumedPoints >= settings.maxFailures) {
        unlockedReadAt.delete(key);
        return retryAfter(state);
      }
      // Dated from before the read: the answer is at least that old.
      remember(unlockedReadAt, key, now);
      return 0;
    },

    async slowdownFor(clientId) {
      const now = Date.now();
      const known = knownSlowdown(clientId, now);
      if (known !== undefined) return known;
      const state = await clients.get(clientId);
      const ms = state && state.consumedPoints >= slowAt ? SLOW_MS : 0;
      remember(slowReadAt, clientId, { at: now, ms });
      return ms;
    },

    async failed(clientId, ip) {
      const key = keys.clientSource(clientId, ip);
      // Set before counting (requests meanwhile read the row) and again after: a lockout this
      // failure starts runs one window from a moment after this one.
      remember(failedHereUntil, key, Date.now() + windowMs);
      unlockedReadAt.delete(key);
      slowReadAt.delete(clientId);
      try {
        const [pair] = await Promise.all([pairs.penalty(key), clients.penalty(clientId)]);
        // One failure sees each count, so the lockout starts once; block() holds the count above
        // the limit for a whole window from now, however early in its window the limit was met.
        if (pair.consumedPoints !== settings.maxFailures) return 0;
        await pairs.block(key, settings.windowSeconds);
        return settings.windowSeconds;
      } finally {
        remember(failedHereUntil, key, Date.now() + windowMs);
      }
    },
  };
}
