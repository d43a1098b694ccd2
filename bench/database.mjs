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
    /**
     * Transactions committed or rolled back in this database so far (pg_stat_database): each
     * statement sent outside BEGIN … COMMIT is one. Backends report them within a second of
     * going idle, so read this a little after the load stops.
     */
    transactions: async () => {
      const { rows } = await admin(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = '${name}'`);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
