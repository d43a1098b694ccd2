import type { Db } from '../db/db.js';

// The sign-in throttle's two statements on every attempt, each one round trip instead of the
// library's one per key (login_throttle.ts). They keep rate-limiter-flexible's row format and
// its rules exactly (RateLimiterPostgres._upsert / _get: `expire` in epoch ms; a row whose
// `expire` has passed counts as absent and starts afresh), so the library's own calls (block,
// reward on a refusal, the periodic delete of expired rows, client_auth_throttle.ts) read and
// write the same rows as before.
//
// Both statements change the account's row before the IP's: two attempts never wait on each
// other's rows in opposite orders, so they cannot deadlock.

/** A counter row as the statement left it: points and milliseconds until its window ends (-1: never). */
export interface Count {
  points: number;
  msBeforeNext: number;
}

export interface Reservation {
  account: Count;
  ip: Count;
  /** the IP's lockout row, when one is in force */
  ipLock: Count | undefined;
}

const ADMIT_SQL = `
WITH lock AS (
  SELECT points, expire FROM login_limits WHERE key = $3 AND (expire > $5 OR expire IS NULL)
), counted AS (
  INSERT INTO login_limits (key, points, expire) VALUES ($1, 1, $4), ($2, 1, $4)
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN login_limits.expire <= $5 THEN 1 ELSE login_limits.points + 1 END,
    expire = CASE WHEN login_limits.expire <= $5 THEN $4 ELSE login_limits.expire END
  RETURNING key, points, expire
)
SELECT key, points, expire FROM counted
UNION ALL
SELECT $3 AS key, points, expire FROM lock`;

// The account's row is deleted (its failures forgotten) and the IP's reservation given back
// (reward: points - 1). The INSERT reads the DELETE's outcome first, so the account's row is
// locked before the IP's, as in ADMIT_SQL.
const RELEASE_SQL = `
WITH forgotten AS (DELETE FROM login_limits WHERE key = $1 RETURNING 1)
INSERT INTO login_limits (key, points, expire)
SELECT $2::varchar, -1, $3::bigint FROM (SELECT count(*) FROM forgotten) AS done
ON CONFLICT (key) DO UPDATE SET
  points = CASE WHEN login_limits.expire <= $4 THEN -1 ELSE login_limits.points - 1 END,
  expire = CASE WHEN login_limits.expire <= $4 THEN $3 ELSE login_limits.expire END`;

const count = (row: { points: number | string; expire: string | number | null } | undefined, now: number): Count | undefined =>
  row ? { points: Number(row.points), msBeforeNext: row.expire === null ? -1 : Math.max(Number(row.expire) - now, 0) } : undefined;

export interface AttemptCounts {
  /** Reads the IP's lockout and reserves one attempt on the account's and the IP's counts. */
  reserve(keys: { account: string; ip: string; ipLock: string }, windowMs: number): Promise<Reservation>;
  /** The right password: the account's count is forgotten, the IP's reservation given back. */
  release(keys: { account: string; ip: string }, windowMs: number): Promise<void>;
}

export function createAttemptCounts(db: Pick<Db, 'query'>): AttemptCounts {
  return {
    async reserve(keys, windowMs) {
      const now = Date.now();
      const { rows } = await db.query<{ key: string; points: number | string; expire: string | null }>({
        name: 'login_limits:reserve',
        text: ADMIT_SQL,
        values: [keys.account, keys.ip, keys.ipLock, now + windowMs, now],
      });
      const byKey = new Map(rows.map((r) => [r.key, r]));
      const account = count(byKey.get(keys.account), now);
      const ip = count(byKey.get(keys.ip), now);
      if (!account || !ip) throw new Error('login_limits: the reservation returned no row');
      const lock = count(byKey.get(keys.ipLock), now);
      return { account, ip, ipLock: lock && lock.points > 0 ? lock : undefined };
    },

    async release(keys, windowMs) {
      const now = Date.now();
      await db.query({ name: 'login_limits:release', text: RELEASE_SQL, values: [keys.account, keys.ip, now + windowMs, now] });
    },
  };
}
