import type pg from 'pg';
import type { Db } from '../db/db.js';
import { splitPoolMode } from '../db/pool_mode.js';

// Where the cache's listener connects (README "Caches"): DATABASE_LISTEN_URL when set, which
// must reach the server directly; else the database's own connection settings when each pool
// connection is a server session of its own. Behind a transaction pooler with no
// DATABASE_LISTEN_URL, and on embedded PGlite, there is nowhere to listen: no cache.

export type ListenTarget = { config: pg.ClientConfig; reason?: undefined } | { config: null; reason: string };

export function listenTarget(db: Db, listenUrl: string | undefined): ListenTarget {
  if (listenUrl) {
    const { connectionString, poolMode } = splitPoolMode(listenUrl);
    if (poolMode === 'transaction') return { config: null, reason: 'DATABASE_LISTEN_URL names a transaction pooler' };
    return { config: { connectionString } };
  }
  if (db.kind === 'embedded') return { config: null, reason: 'the embedded database carries no notifications' };
  if (!db.ownSessions) return { config: null, reason: 'DATABASE_URL is a transaction pooler and DATABASE_LISTEN_URL is not set' };
  // The pool's own settings (connection string, or host and port); the pool-only ones are ignored.
  const { connectionString, host, port, user, password, database, ssl } = db.pool.options;
  return { config: { connectionString, host, port, user, password, database, ssl } };
}
