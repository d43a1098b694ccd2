import type { Server } from 'node:http';
import { loadEnv } from './config/env.js';
import { loadConfigFile } from './config/load_config_file.js';
import { ConfigError } from './config/format_issues.js';
import { openDb, DbOpenError } from './db/open_db.js';
import { startSweeper } from './db/sweep_expired.js';
import { createLogger } from './log.js';
import { buildGatehouse } from './build_gatehouse.js';

// Start-up: env → config file → database → (migrate, keys, provider, clients, app) → listen.
// SIGTERM/SIGINT stop accepting, let in-flight requests finish, close the database, exit 0.

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger(env.logLevel);
  const { config, found } = await loadConfigFile(env.configFile, { optional: !process.env.CONFIG_FILE });
  if (!found) log.warn({ file: env.configFile }, 'no config file: serving no clients (see README, "Config file")');

  const db = await openDb({
    databaseUrl: env.databaseUrl,
    dataDir: env.dataDir,
    poolSize: env.dbPoolSize,
    role: 'server',
    onPoolError: (error) => log.warn({ err: error }, 'database connection lost'),
  });
  let server: Server | undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await db.close().catch(() => undefined);
    clearTimeout(force);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  try {
    const { app } = await buildGatehouse({ env, log, config, db });
    const sweeper = startSweeper(db, env.sweepIntervalMs, (deleted, error) => {
      if (error) log.warn({ err: error }, 'expiry sweep failed');
      else if (deleted) log.info({ event: 'sweep', deleted }, 'expired rows deleted');
    });
    server = app.listen(env.port, () => {
      log.info({ event: 'listening', port: env.port, issuer: env.issuer, database: db.kind }, `Gatehouse listening on ${env.issuer}`);
    });
    server.on('close', () => sweeper.stop());
    server.on('error', (error) => {
      log.fatal({ err: error }, 'cannot listen');
      void db.close().finally(() => process.exit(1));
    });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DbOpenError) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exit(1);
});
