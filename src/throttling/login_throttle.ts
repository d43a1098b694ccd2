import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { ipKey, type ThrottleKeys, type ThrottleSubject } from './throttle_keys.js';
import { createAttemptCounts } from './attempt_counts.js';

// Brute-force protection for the password form. Failures are counted per account and per client
// IP in the `login_limits` table (rate-limiter-flexible's Postgres store), so every instance
// sharing the database sees the same counts. Each failure slows the account's next attempt a
// little more; the Nth failure in the window locks the account (or the IP) for the lockout time,
// during which attempts are refused before any password is checked. The IP limit is meant to be
// the higher one: it stops one client spraying many accounts without letting one locked user
// lock out everyone behind the same address.
//
// Both counts are reserved before the password is checked (one atomic upsert each), so parallel
// attempts each see a distinct number and at most the limit of them get a password check; the
// reservation is given back when the attempt is refused or succeeds.

export interface LoginThrottleSettings {
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

type LockScope = 'account' | 'ip';

interface Lockout {
  scope: LockScope;
  retryAfterSeconds: number;
}

/** An admitted attempt; hand it back to `failed` or `succeeded`. */
interface Attempt {
  readonly accountKey: string;
  readonly ipKey: string;
  /** this attempt's number among the account's attempts in the window, counting from 1 */
  readonly number: number;
  /** the same among the address's attempts */
  readonly ipNumber: number;
}

/**
 * A refused attempt. `lockKey` names the lockout (`account:<hash of the login>` or `ip:<address>`)
 * and `lockoutSeconds` its full length: the refusals of one lockout are audited as one row.
 */
type Admission = { admitted: true; attempt: Attempt } | ({ admitted: false; lockKey: string; lockoutSeconds: number } & Lockout);

export interface LoginThrottle {
  /**
   * Before the password is checked: refuses at once while the account or the IP is locked;
   * otherwise waits the progressive delay and admits the attempt.
   */
  admit(subject: ThrottleSubject, ip: string | undefined): Promise<Admission>;
  /** After a wrong password or an unknown login: counts it; returns the lockouts it started. */
  failed(attempt: Attempt): Promise<Lockout[]>;
  /** After the right password: the account starts afresh, the IP's reservation is given back. */
  succeeded(attempt: Attempt): Promise<void>;
}

/**
 * rate-limiter-flexible's Postgres store (migrations/0003_login_limits.sql); client_auth_throttle.ts
 * shares it. The library holds its statements, but for ours: the two of every attempt
 * (attempt_counts.ts) and forgetAccountFailures.
 */
const LIMITS_TABLE = 'login_limits';
const DELAY_STEP_MS = 200;
const MAX_DELAY_MS = 2000;

const retryAfter = (res: Pick<RateLimiterRes, 'msBeforeNext'>) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/**
 * The store client to give RateLimiterPostgres. The library names its statements; on embedded
 * PGlite every pg connection shares one backend where names collide, so its queries go through
 * db.query, which knows when to drop them.
 */
function limitsStoreClient(db: Pick<Db, 'query'>) {
  return { query: (q: { name?: string; text: string; values?: unknown[] }) => db.query(q) };
}

/** The account limiter's key prefix: its rows are keyed `account:<HMAC of the sub>`. */
const ACCOUNT_LIMITER = 'account';

/**
 * Forgets an account's failed sign-ins, lifting any lockout (`gatehouse users unlock`). Returns
 * whether there were any.
 */
export async function forgetAccountFailures(db: Pick<Db, 'query'>, keys: ThrottleKeys, sub: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM ${LIMITS_TABLE} WHERE key = $1`, [`${ACCOUNT_LIMITER}:${keys.account({ sub })}`]);
  return rowCount > 0;
}

export interface LimiterOptions {
  /** the one limiter of the table that deletes long-expired rows (the account limiter) */
  clearExpiredByTimeout?: boolean;
  /** refuse a key from memory once it consumed this many points, until its window ends */
  inMemoryBlockOnConsumed?: number;
}

/** A counter in the shared limits table, under `keyPrefix:`. */
export function createLimiter(db: Pick<Db, 'query'>, keyPrefix: string, points: number, duration: number, options: LimiterOptions = {}) {
  return new RateLimiterPostgres({
    storeClient: limitsStoreClient(db),
    storeType: 'pool',
    tableName: LIMITS_TABLE,
    tableCreated: true, // migrations/0003_login_limits.sql
    // Every limiter shares the table; one periodic delete of long-expired rows is enough.
    clearExpiredByTimeout: options.clearExpiredByTimeout ?? false,
    keyPrefix,
    points,
    duration,
    ...(options.inMemoryBlockOnConsumed ? { inMemoryBlockOnConsumed: options.inMemoryBlockOnConsumed } : {}),
  });
}

export function createLoginThrottle(db: Db, keys: ThrottleKeys, settings: LoginThrottleSettings): LoginThrottle {
  const accounts = createLimiter(db, ACCOUNT_LIMITER, settings.maxFailuresPerAccount, settings.windowSeconds, { clearExpiredByTimeout: true });
  const ips = createLimiter(db, 'ip', settings.maxFailuresPerIp, settings.windowSeconds);
  // An IP's lockout is a row of its own: the count's reservations are given back by refused
  // and successful attempts, and a give-back must never lift a lockout.
  const ipLocks = createLimiter(db, 'ip_lock', 1, settings.lockoutSeconds);
  const counts = createAttemptCounts(db);
  const windowMs = settings.windowSeconds * 1000;
  // The limiters' own keys (`prefix:key`), for the statements of attempt_counts.ts.
  const rowKeys = (key: { account: string; ip: string }) => ({ account: accounts.getKey(key.account), ip: ips.getKey(key.ip), ipLock: ipLocks.getKey(key.ip) });

  return {
    async admit(subject, ip) {
      const keyOf = { account: keys.account(subject), ip: ipKey(ip) };
      // Read and reserved at once: one statement (attempt_counts.ts).
      const reserved = await counts.reserve(rowKeys(keyOf), windowMs);
      const locked = reserved.ipLock ? retryAfter(reserved.ipLock) : 0;
      const account = { consumedPoints: reserved.account.points, msBeforeNext: reserved.account.msBeforeNext };
      const ipCount = { consumedPoints: reserved.ip.points, msBeforeNext: reserved.ip.msBeforeNext };
      if (locked || ipCount.consumedPoints > settings.maxFailuresPerIp) {
        await Promise.all([accounts.reward(keyOf.account), ips.reward(keyOf.ip)]);
        return {
          admitted: false,
          scope: 'ip',
          retryAfterSeconds: locked || retryAfter(ipCount),
          lockKey: `ip:${keyOf.ip}`,
          lockoutSeconds: settings.lockoutSeconds,
        };
      }
      if (account.consumedPoints > settings.maxFailuresPerAccount) {
        await ips.reward(keyOf.ip);
        return {
          admitted: false,
          scope: 'account',
          retryAfterSeconds: retryAfter(account),
          lockKey: `account:${keyOf.account}`,
          lockoutSeconds: settings.lockoutSeconds,
        };
      }
      const failuresBefore = account.consumedPoints - 1;
      if (failuresBefore > 0) await sleep(Math.min(failuresBefore * DELAY_STEP_MS, MAX_DELAY_MS));
      return { admitted: true, attempt: { accountKey: keyOf.account, ipKey: keyOf.ip, number: account.consumedPoints, ipNumber: ipCount.consumedPoints } };
    },

    async failed(attempt) {
      const started: Lockout[] = [];
      // Exactly one failure sees each number, so each lockout starts once, on the failure that
      // reached the limit. block() keeps the account's count above the limit until it ends.
      if (attempt.number === settings.maxFailuresPerAccount) {
        await accounts.block(attempt.accountKey, settings.lockoutSeconds);
        started.push({ scope: 'account', retryAfterSeconds: settings.lockoutSeconds });
      }
      if (attempt.ipNumber === settings.maxFailuresPerIp) {
        // The count restarts when the lockout ends (as the account's does).
        await Promise.all([ipLocks.block(attempt.ipKey, settings.lockoutSeconds), ips.block(attempt.ipKey, settings.lockoutSeconds)]);
        started.push({ scope: 'ip', retryAfterSeconds: settings.lockoutSeconds });
      }
      return started;
    },

    async succeeded(attempt) {
      await counts.release(rowKeys({ account: attempt.accountKey, ip: attempt.ipKey }), windowMs);
    },
  };
}
