import type { QueryConfig } from 'pg';
import type { Db } from '../db/db.js';
import { EVERYTHING } from '../db/local_changes.js';
import { isUuid } from '../core/uuid.js';

// The users repository's database handle: each statement that updates or deletes users tells
// this process's caches which users changed as soon as it is done (db/local_changes.ts), so
// userinfo at this instance never answers with the claims or the enabled state of before. The
// users are those the statement returns, else the one its first parameter names; failing both,
// any user may have changed.

const USER_WRITE = /\b(UPDATE|DELETE\s+FROM)\s+users\b/i;

export function announcingUserWrites(db: Db): Db {
  // A wrapper, not a copy: `pool` may be a getter that must not be read before it is needed
  // (client validation's stand-in database throws from it).
  return Object.create(db, {
    query: {
      value: async (text: string | QueryConfig, values?: unknown[]) => {
        const sql = typeof text === 'string' ? text : text.text;
        const result = await db.query(text, values);
        if (!USER_WRITE.test(sql)) return result;
        const subs = result.rows.map((row) => (row as { sub?: unknown }).sub).filter((sub): sub is string => typeof sub === 'string');
        const first: unknown = (typeof text === 'string' ? values : (text.values ?? values))?.[0];
        if (subs.length === 0 && typeof first === 'string' && isUuid(first)) subs.push(first);
        db.localChanges.announce(subs.length > 0 ? subs.map((sub) => `a:${sub.toLowerCase()}`) : [EVERYTHING]);
        return result;
      },
    },
  }) as Db;
}
