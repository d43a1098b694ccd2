import cluster, { type Worker } from 'node:cluster';
import type { Env } from '../config/env.js';
import { openDb } from '../db/open_db.js';
import { migrate } from '../db/migrate.js';
import { createLogger, resolveLogFormat } from '../core/log.js';
import { removePidFile, writePidFile } from '../core/pid_file.js';
import { serveClusterMetrics } from '../observability/cluster_metrics.js';

// WEB_CONCURRENCY > 1: this process forks the workers that serve (they share the port) and
// only supervises them. With the embedded database it also holds PGlite and serves it to the
// workers over its private socket, since two processes must never open the same data dir.

export const WORKER_ENV = { socket: 'GATEHOUSE_EMBEDDED_SOCKET', index: 'GATEHOUSE_WORKER_INDEX' } as const;

export async function runPrimary(env: Env): Promise<void> {
  const log = createLogger(env.logLevel, undefined, resolveLogFormat(env.logFormat)).child({ role: 'primary' });
  let socketDir: string | undefined;
  const db = env.databaseUrl
    ? undefined
    : await openDb({
        databaseUrl: undefined,
        dataDir: env.dataDir,
        poolSize: env.dbPoolSize * env.webConcurrency,
        connectTimeoutMs: env.dbConnectTimeoutMs,
        queryTimeoutMs: env.dbQueryTimeoutMs,
        role: 'server',
      });
  if (db) {
    // Migrate once here so the workers start on a current schema without queueing for the lock.
    await migrate(db);
    socketDir = (db.pool.options as { host?: string }).host;
  }
  serveClusterMetrics();

  let stopping = false;
  const workers = new Map<Worker, number>();
  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_ENV.index]: String(index), ...(socketDir ? { [WORKER_ENV.socket]: socketDir } : {}) });
    workers.set(worker, index);
  };
  cluster.on('exit', (worker, code, signal) => {
    const index = workers.get(worker) ?? 0;
    workers.delete(worker);
    if (stopping) {
      if (workers.size === 0) void finish();
      return;
    }
    log.error({ event: 'worker.exit', pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(() => fork(index), 1000).unref();
  });

  const finish = async () => {
    await removePidFile(env.pidFile).catch(() => undefined);
    await db?.close().catch(() => undefined);
    log.info({ event: 'shutdown.done' }, 'all workers stopped');
    process.exit(0);
  };
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal, workers: workers.size }, 'stopping workers');
    for (const worker of workers.keys()) worker.process.kill('SIGTERM');
    if (workers.size === 0) void finish();
    setTimeout(() => {
      log.warn({ event: 'shutdown.timeout' }, 'workers did not stop in time');
      for (const worker of workers.keys()) worker.process.kill('SIGKILL');
    }, env.shutdownTimeoutMs + 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    for (const worker of workers.keys()) worker.process.kill('SIGHUP');
  });

  // The primary answers SIGHUP for every worker: its pid is the one `gatehouse config reload` signals.
  await writePidFile(env.pidFile).catch((error: unknown) =>
    log.warn({ event: 'pid_file.failed', pid_file: env.pidFile, reason: (error as NodeJS.ErrnoException).code }, 'cannot write the pid file'),
  );
  log.info(
    { event: 'cluster.start', workers: env.webConcurrency, pid: process.pid, pid_file: env.pidFile },
    `starting ${env.webConcurrency} workers (primary pid ${process.pid}, in ${env.pidFile})`,
  );
  for (let i = 0; i < env.webConcurrency; i++) fork(i);
}
