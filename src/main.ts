import cluster from 'node:cluster';
import { loadEnv } from './config/env.js';
import { ConfigError } from './config/format_issues.js';
import { DbOpenError } from './db/open_db.js';
import { serve } from './process/serve.js';
import { runPrimary, WORKER_ENV } from './process/cluster_primary.js';

// Start-up: one serving process, or (WEB_CONCURRENCY > 1) a primary that forks that many
// serving workers sharing the port. See process/serve.ts and process/cluster_primary.ts.

async function main(): Promise<void> {
  const env = loadEnv();
  if (cluster.isPrimary && env.webConcurrency > 1) {
    await runPrimary(env);
    return;
  }
  await serve(env, {
    embeddedSocketDir: cluster.isWorker ? process.env[WORKER_ENV.socket] : undefined,
    housekeeping: !cluster.isWorker || process.env[WORKER_ENV.index] === '0',
    pidFile: cluster.isWorker ? undefined : env.pidFile,
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DbOpenError) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as { message?: string } | null | undefined)?.message ?? String(error)}\n`);
  }
  process.exit(1);
});
