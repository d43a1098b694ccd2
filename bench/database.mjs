import pg from 'pg';

// A fresh, empty database on the Postgres server for one bench run; dropped afterwards.

export async function createFreshDatabase(adminUrl) {
  const name = `gatehouse_bench_${process.pid}_${Date.now()}`;
  const admin = async (sql) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const { rows } = await admin('SHOW server_version');
  return {
    name,
    url: url.href,
    serverVersion: rows[0].server_version,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
