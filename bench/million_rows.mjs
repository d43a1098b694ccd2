import { setTimeout as sleep } from 'node:timers/promises';

// A big oidc_models table: a quarter Grants, the rest refresh and access tokens pointing at
// them (grant_id set), with payloads copied from real rows this run created. Generated in SQL
// with generate_series and inserted in index order: row by row through the adapter would take
// longer than the whole bench may.
//
// Ids are a prefix, md5(grant number), and a counter, so sorting by id also sorts by grant_id and
// both indexes are written in order (random order makes the insert three times slower here).
// Lookups by a token's own random id see a btree just as deep either way.

const GRANT_SQL = `INSERT INTO oidc_models (model, id, payload, grant_id, expires_at)
  SELECT 'Grant', id, $1::jsonb || jsonb_build_object('jti', id), NULL, $2::timestamptz
  FROM (SELECT 'bulkg' || md5(i::text) AS id FROM generate_series(0, $3::int - 1) i) s ORDER BY id`;

const TOKEN_SQL = `INSERT INTO oidc_models (model, id, payload, grant_id, expires_at)
  SELECT $4::text, id, $1::jsonb || jsonb_build_object('jti', id, 'grantId', grant_id), grant_id, $2::timestamptz
  FROM (SELECT $5::text || md5((i % $3::int)::text) || (i / $3::int) AS id, 'bulkg' || md5((i % $3::int)::text) AS grant_id
        FROM generate_series(0, $6::int - 1) i) s ORDER BY id`;

async function templates(pool) {
  const { rows } = await pool.query(
    `SELECT DISTINCT ON (model) model, payload FROM oidc_models WHERE model IN ('Grant', 'RefreshToken', 'AccessToken') ORDER BY model, id`,
  );
  const byModel = Object.fromEntries(rows.map((r) => [r.model, r.payload]));
  for (const model of ['Grant', 'RefreshToken', 'AccessToken']) if (!byModel[model]) throw new Error(`no ${model} row to copy`);
  return byModel;
}

/** Inserts `count` rows that expire at `expiresAt`; returns the seconds it took. */
export async function insertRows(pool, count, expiresAt) {
  const t = await templates(pool);
  const grants = Math.round(count / 4);
  const refresh = Math.round((count - grants) / 2);
  const access = count - grants - refresh;
  const started = performance.now();
  await pool.query(GRANT_SQL, [t.Grant, expiresAt, grants]);
  await pool.query(TOKEN_SQL, [t.RefreshToken, expiresAt, grants, 'RefreshToken', 'bulkr', refresh]);
  await pool.query(TOKEN_SQL, [t.AccessToken, expiresAt, grants, 'AccessToken', 'bulka', access]);
  // The bench server runs with autovacuum off; production autovacuum would analyze this table.
  await pool.query('ANALYZE oidc_models');
  return { seconds: (performance.now() - started) / 1000, grants, refresh, access };
}

/** Waits until every bulk row has expired (they were inserted to expire after the re-runs). */
export async function waitForExpiry(pool) {
  const { rows } = await pool.query(`SELECT extract(epoch FROM max(expires_at) - now()) AS left FROM oidc_models WHERE id LIKE 'bulk%'`);
  const seconds = Math.max(0, Number(rows[0].left ?? 0)) + 0.2;
  await sleep(seconds * 1000);
  return seconds;
}

export async function countRows(pool) {
  const { rows } = await pool.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE expires_at < now())::int AS expired FROM oidc_models`);
  return rows[0];
}
