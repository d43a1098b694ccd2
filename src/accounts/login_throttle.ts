import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';

// Brute-force protection for the password form. Failures are counted per account and per client
// IP in the `login_limits` table (rate-limiter-flexible's Postgres store), so every instance
// sharing the database sees the same counts. Each failure slows the account's next attempt a
// little more; the Nth failure in the window locks the account (or the IP) for the lockout time,
// during which attempts are refused before any password is checked. The IP limit is meant to be
// the higher one: it stops one client spraying many accounts without letting one locked user
// lock out everyone behind the same address.

export interface LoginThrottleSettings {
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

export type LockScope = 'account' | 'ip';

export interface Lockout {
  scope: LockScope;
  retryAfterSeconds: number;
}

/** An admitted attempt; hand it back to `failed` or `succeeded`. */
export interface Attempt {
  readonly accountKey: string;
  readonly ipKey: string;
  /** this attempt's number among the account's attempts in the window, counting from 1 */
  readonly number: number;
}

/**
 * A refused attempt. `lockKey` names the lockout (`account:<hash of the login>` or `ip:<address>`)
 * and `lockoutSeconds` its full length: the refusals of one lockout are audited as one row.
 */
export type Admission = { admitted: true; attempt: Attempt } | ({ admitted: false; lockKey: string; lockoutSeconds: number } & Lockout);

export interface LoginThrottle {
  /**
   * Before the password is checked: refuses at once while the account or the IP is locked;
   * otherwise waits the progressive delay and admits the attempt.
   */
  admit(login: string, ip: string | undefined): Promise<Admission>;
  /** After a wrong password or an unknown login: counts it; returns the lockouts it started. */
  failed(attempt: Attempt): Promise<Lockout[]>;
  /** After the right password: the account starts afresh (the IP keeps its count). */
  succeeded(attempt: Attempt): Promise<void>;
}

/** rate-limiter-flexible's Postgres store (migrations/0003_login_limits.sql); client_auth_throttle.ts shares it. */
export const LIMITS_TABLE = 'login_limits';
const DELAY_STEP_MS = 200;
const MAX_DELAY_MS = 2000;

/**
 * The account key is the login as typed, normalised, so an unknown name is counted exactly like
 * a real one and a lockout says nothing about who exists. It is hashed: people type passwords
 * into the username field, and the table must not keep them (nor outgrow `varchar(255)`).
 */
export function accountKey(login: string): string {
  return createHash('sha256').update(login.trim().toLowerCase()).digest('base64url');
}

/**
 * IPv4 addresses as they are; IPv6 by /64, the block one subscriber is given, or a single
 * client could walk through 2^64 addresses and never meet the limit.
 */
export function ipKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const bare = ip.split('%')[0]!;
  if (!isIPv6(bare)) return ip.slice(0, 64);
  const [head = '', tail] = bare.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groupCount = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const missing = tail === undefined ? 0 : 8 - groupCount(headGroups) - groupCount(tailGroups);
  const groups = [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

const retryAfter = (res: Pick<RateLimiterRes, 'msBeforeNext'>) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/**
 * The store client to give RateLimiterPostgres. The library names its statements; on embedded
 * PGlite every pg connection shares one backend where names collide, so its queries go through
 * db.query, which knows when to drop them.
 */
export function limitsStoreClient(db: Db) {
  return { query: (q: { name?: string; text: string; values?: unknown[] }) => db.query(q) };
}

export function createLoginThrottle(db: Db, settings: LoginThrottleSettings): LoginThrottle {
  const storeClient = limitsStoreClient(db);
  const limiter = (keyPrefix: string, points: number, clearExpiredByTimeout: boolean) =>
    new RateLimiterPostgres({
      storeClient,
      storeType: 'pool',
      tableName: LIMITS_TABLE,
      tableCreated: true, // migrations/0003_login_limits.sql
      // Every limiter shares the table; one periodic delete of long-expired rows is enough.
      clearExpiredByTimeout,
      keyPrefix,
      points,
      duration: settings.windowSeconds,
    });
  const accounts = limiter('account', settings.maxFailuresPerAccount, true);
  const ips = limiter('ip', settings.maxFailuresPerIp, false);

  return {
    async admit(login, ip) {
      const keys = { account: accountKey(login), ip: ipKey(ip) };
      // The account's attempt is counted before the password is checked (penalty is one atomic
      // upsert), so parallel guesses each see a distinct number and cannot all slip in under the
      // limit; the count is taken back if the attempt succeeds. The IP counts only failures.
      const [account, ipState] = await Promise.all([accounts.penalty(keys.account), ips.get(keys.ip)]);
      if (ipState && ipState.consumedPoints > settings.maxFailuresPerIp) {
        await accounts.reward(keys.account);
        return { admitted: false, scope: 'ip', retryAfterSeconds: retryAfter(ipState), lockKey: `ip:${keys.ip}`, lockoutSeconds: settings.lockoutSeconds };
      }
      if (account.consumedPoints > settings.maxFailuresPerAccount) {
        return { admitted: false, scope: 'account', retryAfterSeconds: retryAfter(account), lockKey: `account:${keys.account}`, lockoutSeconds: settings.lockoutSeconds };
      }
      const failuresBefore = account.consumedPoints - 1;
      if (failuresBefore > 0) await sleep(Math.min(failuresBefore * DELAY_STEP_MS, MAX_DELAY_MS));
      return { admitted: true, attempt: { accountKey: keys.account, ipKey: keys.ip, number: account.consumedPoints } };
    },

    async failed(attempt) {
      const started: Lockout[] = [];
      const ip = await ips.penalty(attempt.ipKey);
      // Exactly one failure sees each number, so each lockout starts once, on the failure that
      // reached the limit. block() keeps the count above the limit until the lockout ends.
      if (attempt.number === settings.maxFailuresPerAccount) {
        await accounts.block(attempt.accountKey, settings.lockoutSeconds);
        started.push({ scope: 'account', retryAfterSeconds: settings.lockoutSeconds });
      }
      if (ip.consumedPoints === settings.maxFailuresPerIp) {
        await ips.block(attempt.ipKey, settings.lockoutSeconds);
        started.push({ scope: 'ip', retryAfterSeconds: settings.lockoutSeconds });
      }
      return started;
    },

    async succeeded(attempt) {
      await accounts.delete(attempt.accountKey);
    },
  };
}
