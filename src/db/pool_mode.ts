// A Postgres URL may end in `?pool_mode=transaction` when it points at a pooler that hands each
// transaction a different server connection (PgBouncer's `pool_mode = transaction`). Such a
// pooler cannot keep a named prepared statement with the session that prepared it, so in that
// mode every statement goes unnamed. The parameter is ours: it is taken off the URL before `pg`
// sees it.

export type PoolMode = 'session' | 'transaction';

const PARAMETER = 'pool_mode';

export class PoolModeError extends Error {}

/** The URL without our parameter, and the mode it named (`session` when absent). */
export function splitPoolMode(databaseUrl: string): { connectionString: string; poolMode: PoolMode } {
  const url = new URL(databaseUrl);
  const value = url.searchParams.get(PARAMETER);
  if (value === null) return { connectionString: databaseUrl, poolMode: 'session' };
  if (value !== 'session' && value !== 'transaction') {
    throw new PoolModeError(`DATABASE_URL: ${PARAMETER} must be "session" or "transaction", not "${value}"`);
  }
  url.searchParams.delete(PARAMETER);
  return { connectionString: url.toString(), poolMode: value };
}
