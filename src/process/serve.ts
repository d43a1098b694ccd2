import type { Server } from 'node:http';
import type { Env } from '../config/env.js';
import { ConfigError } from '../config/format_issues.js';
import { openDb } from '../db/open_db.js';
import { startSweeper } from '../storage/sweep_expired.js';
import { sweepSentMail } from '../storage/mail_outbox.js';
import { sweepLinkTokens } from '../storage/link_tokens.js';
import { deleteInBatches } from '../db/delete_in_batches.js';
import { unavailableReason } from '../core/database_unavailable.js';
import { createLogger, resolveLogFormat, type Logger } from '../core/log.js';
import { buildGatehouse, type Gatehouse } from '../app/build_gatehouse.js';
import { pruneExpiredKeys, rotateIfDue } from '../keys/key_store.js';
import { pruneAuditEvents } from '../audit/audit_log.js';
import { shareCoresForHashing } from '../accounts/passwords.js';
import { serialReloads } from './serial_reloads.js';
import { loadCheckedConfigFile } from '../provider/config_file_problems.js';
import { removePidFile, writePidFile } from '../core/pid_file.js';

// One serving process (the only one, or a cluster worker): database → Gatehouse → listen.
// SIGHUP re-reads the config file; SIGTERM/SIGINT stop accepting, let in-flight requests
// finish (up to SHUTDOWN_TIMEOUT_SECONDS), close the database and exit 0.

export interface ServeOptions {
  /** set in cluster workers: the primary's embedded database socket */
  embeddedSocketDir?: string | undefined;
  /** only one process of a cluster sweeps and rotates */
  housekeeping: boolean;
  /** where to write this process's pid (not in a cluster worker: the primary writes its own) */
  pidFile?: string | undefined;
}

/** `signals`: how many SIGHUPs this reload answers (serial_reloads.ts merges those that wait). */
async function reloadConfig(env: Env, gatehouse: Gatehouse, log: Logger, signals: number): Promise<void> {
  try {
    const { config } = await loadCheckedConfigFile(env, env.configFile, { optional: !process.env.CONFIG_FILE });
    await gatehouse.applyConfig(config);
    await gatehouse.audit.record({ event: 'config.reloaded', details: { actor: 'signal', signals, clients: config.clients.length, apis: config.apis.length } });
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
    log.error({ event: 'config.reload_failed', signals, problems }, 'config file not reloaded; the previous config keeps serving');
  }
}

export async function serve(env: Env, options: ServeOptions): Promise<void> {
  const log = createLogger(env.logLevel, undefined, resolveLogFormat(env.logFormat));
  shareCoresForHashing(env.webConcurrency);
  const { config, found } = await loadCheckedConfigFile(env, env.configFile, { optional: !process.env.CONFIG_FILE });
  if (!found) log.warn({ file: env.configFile }, 'no config file: serving no clients (see README, "Config file")');

  const db = await openDb({
    databaseUrl: env.databaseUrl,
    dataDir: env.dataDir,
    poolSize: env.dbPoolSize,
    connectTimeoutMs: env.dbConnectTimeoutMs,
    queryTimeoutMs: env.dbQueryTimeoutMs,
    role: 'server',
    embeddedSocketDir: options.embeddedSocketDir,
    // An idle connection closed by the server or the network: the pool replaces it on demand.
    onPoolError: (error) => log.warn({ event: 'db.connection_lost', reason: unavailableReason(error) }, 'database connection lost'),
  });

  let server: Server | undefined;
  let gatehouse: Gatehouse | undefined;
  const timers: { stop(): void }[] = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.warn({ event: 'shutdown.timeout' }, 'in-flight requests did not finish in time; closing them');
      server?.closeAllConnections();
    }, env.shutdownTimeoutMs);
    force.unref();
    for (const timer of timers) timer.stop();
    gatehouse?.host.stop();
    await gatehouse?.caches.close();
    const listening = server;
    if (listening?.listening) {
      const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
      listening.closeIdleConnections();
      await closed;
    }
    clearTimeout(force);
    if (options.pidFile) await removePidFile(options.pidFile).catch(() => undefined);
    await db.close().catch((error: unknown) => log.warn({ err: error }, 'closing the database failed'));
    log.info({ event: 'shutdown.done' }, 'stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // Installed now: SIGHUP's default action would kill a process that is still starting.
  let onHangup = () => log.warn({ event: 'config.reload_skipped' }, 'SIGHUP during start-up: the config file being started with is current');
  process.on('SIGHUP', () => onHangup());

  try {
    gatehouse = await buildGatehouse({ env, log, config, db });
    gatehouse.host.startRefreshing();
    gatehouse.followKeyChanges();
    const live = gatehouse;
    const reloads = serialReloads((signals) => reloadConfig(env, live, log, signals));
    onHangup = () => void reloads.request();

    // Every process retries due back-channel logouts: a notice is claimed by one sender at a time.
    timers.push(gatehouse.backchannel.startRetrying(Math.min(Math.max(env.backchannel.retryBaseMs, 1000), 5000)));
    // Every process sends due mail too (mail_outbox rows are claimed with SKIP LOCKED).
    timers.push(gatehouse.mailer.startRetrying(Math.min(Math.max(env.mail.retryBaseMs, 1000), 5000)));
    if (options.housekeeping) {
      timers.push(
        startSweeper(db, env.sweepIntervalMs, (deleted, error) => {
          if (error) log.warn({ err: error }, 'expiry sweep failed');
          else if (deleted) log.info({ event: 'sweep', deleted }, 'expired rows deleted');
          pruneExpiredKeys(db)
            .then((kids) => kids.length && log.info({ event: 'keys.pruned', kids }, 'expired keys deleted'))
            .catch((err: unknown) => log.warn({ err }, 'key pruning failed'));
          // Sent mail's envelopes and link tokens a day past their use.
          Promise.all([deleteInBatches((n) => sweepSentMail(db, n), 1000), deleteInBatches((n) => sweepLinkTokens(db, n), 1000)])
            .then(([mail, links]) => (mail || links) && log.info({ event: 'mail.pruned', mail, links }, 'sent mail and expired links deleted'))
            .catch((err: unknown) => log.warn({ err }, 'mail pruning failed'));
          pruneAuditEvents(db, env.auditRetentionDays)
            .then((pruned) => pruned && log.info({ event: 'audit.pruned', deleted: pruned }, 'audit events past AUDIT_RETENTION_DAYS deleted'))
            .catch((err: unknown) => log.warn({ err }, 'audit pruning failed'));
        }),
      );
      if (env.keyAutoRotateMs > 0) {
        const check = () =>
          rotateIfDue(db, env.keyAutoRotateMs, env.keyPropagationSeconds)
            .then((kids) => kids.length && log.info({ event: 'keys.rotated', kids, automatic: true }, 'keys rotated on schedule'))
            .catch((err: unknown) => log.warn({ err }, 'automatic key rotation failed'));
        void check();
        const timer = setInterval(() => void check(), Math.min(env.keyAutoRotateMs / 10, 3600_000));
        timer.unref();
        timers.push({ stop: () => clearInterval(timer) });
      }
    }

    const { pidFile } = options;
    server = gatehouse.app.listen(env.port, () => {
      // Written once serving, so `gatehouse config reload` finds a server that answers SIGHUP.
      const written = pidFile ? writePidFile(pidFile).then(() => pidFile) : Promise.resolve(undefined);
      void written
        .catch((error: unknown) => {
          log.warn({ event: 'pid_file.failed', pid_file: pidFile, reason: (error as NodeJS.ErrnoException).code }, 'cannot write the pid file');
          return undefined;
        })
        .then((file) => {
          log.info(
            { event: 'listening', port: env.port, issuer: env.issuer, database: db.kind, pid: process.pid, pid_file: file },
            `Gatehouse listening on ${env.issuer} (pid ${process.pid}${file ? `, in ${file}` : ''})`,
          );
        });
    });
    server.on('error', (error) => {
      log.fatal({ err: error }, 'cannot listen');
      void db.close().finally(() => process.exit(1));
    });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}
