import { startPgBouncer } from './pgbouncer.js';

// `TEST_VIA_PGBOUNCER=1` with TEST_DATABASE_URL: the whole run goes through PgBouncer in
// transaction pooling mode (deploy/pgbouncer.ini), as production deployments run it. The test
// files see a TEST_DATABASE_URL naming PgBouncer with `pool_mode=transaction`; the forked
// workers inherit it, as they start after this setup.

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.TEST_VIA_PGBOUNCER !== '1') return undefined;
  const target = process.env.TEST_DATABASE_URL;
  if (!target) throw new Error('TEST_VIA_PGBOUNCER=1 needs TEST_DATABASE_URL (the Postgres server PgBouncer stands in front of)');
  const pgbouncer = await startPgBouncer(target);
  const url = new URL(pgbouncer.url);
  url.searchParams.set('pool_mode', 'transaction');
  process.env.TEST_DATABASE_URL = url.toString();
  // The server itself, for what must not go through the pooler (the read cache's LISTEN).
  process.env.TEST_DIRECT_DATABASE_URL = target;
  console.log(`running through PgBouncer (transaction pooling): ${url.host}`);
  return async () => {
    await pgbouncer.stop();
  };
}
