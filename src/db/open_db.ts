import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { dbOnPool, type Db } from './db.js';
import { PoolModeError, splitPoolMode } from './pool_mode.js';
import { acquireLock, publishSocket, readLock, releaseLock, type LockInfo } from './embedded_lock.js';
import { DataDirNotPrivate, makeDataDirPrivate } from './private_data_dir.js';
import { GatehouseError } from '../core/errors.js';

export interface OpenDbOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize: number;
  /** 'server' or 'cli': a CLI may borrow a running server's embedded database, a server may not. */
  role: 'server' | 'cli';
  /** a cluster worker: the primary process holds the embedded database and serves it here */
  embeddedSocketDir?: string | undefined;
  onPoolError?: (error: Error) => void;
  /** how long to wait for a connection (a new one, or a free one from a full pool); default 3 s */
  connectTimeoutMs?: number | undefined;
  /** how long one statement may take before it fails and its connection is dropped; default 5 s */
  queryTimeoutMs?: number | undefined;
}

export class DbOpenError extends GatehouseError {
  constructor(message: string) {
    super('ERR_DB_OPEN', message);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_QUERY_TIMEOUT_MS = 5000;

// While the database is down or unreachable, every request must fail within seconds (and be
// answered 503, see database_unavailable.ts) rather than hang: a bounded wait for a connection,
// a bounded wait for each statement (a half-open connection never answers), and TCP keep-alive
// so idle connections to a vanished server are noticed and dropped before a request meets them.
function makePool(config: pg.PoolConfig, options: OpenDbOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    ...config,
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled it kills the process.
  pool.on('error', (error) => options.onPoolError?.(error));
  // A checked-out client (in a transaction, or running migrations) whose connection dies emits
  // 'error' too, with no pool listener attached: the statement that was running (or the next
  // one) already fails with that error, so this listener only keeps the process alive.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export async function openDb(options: OpenDbOptions): Promise<Db> {
  if (options.databaseUrl) {
    let target;
    try {
      target = splitPoolMode(options.databaseUrl);
    } catch (error) {
      throw error instanceof PoolModeError ? new DbOpenError(error.message) : error;
    }
    const pool = makePool({ connectionString: target.connectionString, max: options.poolSize, keepAlive: true, keepAliveInitialDelayMillis: 10_000 }, options);
    return dbOnPool('postgres', pool, () => Promise.resolve(), { namedStatements: target.poolMode === 'session' });
  }
  if (options.embeddedSocketDir) {
    return dbOnPool('embedded', socketPool(options.embeddedSocketDir, options.poolSize, options), () => Promise.resolve());
  }
  return openEmbedded(options);
}

function socketPool(socketDir: string, max: number, options: OpenDbOptions): pg.Pool {
  return makePool({ host: socketDir, port: 5432, user: 'postgres', database: 'postgres', max }, options);
}

async function waitForHolder(options: OpenDbOptions, holder: LockInfo): Promise<LockInfo | null> {
  // The holder may still be starting (lock taken, socket not yet published), or a short CLI
  // command may be about to finish. Give either up to 15 s.
  const deadline = Date.now() + 15_000;
  let current: LockInfo | null = holder;
  while (current && Date.now() < deadline) {
    if (options.role === 'cli' && current.role === 'server' && current.socketDir) return current;
    await sleep(100);
    current = await readLock(options.dataDir);
  }
  return current;
}

async function openEmbedded(options: OpenDbOptions): Promise<Db> {
  const { dataDir, role } = options;
  let lock = await acquireLock(dataDir, role);
  if (!lock.acquired) {
    const self = lock.holder.pid === process.pid;
    if (self && !(role === 'cli' && lock.holder.socketDir)) {
      throw new DbOpenError(`the embedded database in ${dataDir} is already open in this process`);
    }
    const holder = await waitForHolder(options, lock.holder);
    if (holder?.socketDir && role === 'cli' && holder.role === 'server') {
      // Work through the running server's database rather than opening the files twice.
      return dbOnPool('embedded', socketPool(holder.socketDir, 2, options), () => Promise.resolve());
    }
    if (holder) {
      throw new DbOpenError(
        `the embedded database in ${dataDir} is in use by process ${holder.pid} (${holder.role}); ` +
          'stop it first, or set DATABASE_URL to use a Postgres server',
      );
    }
    lock = await acquireLock(dataDir, role);
    if (!lock.acquired) throw new DbOpenError(`the embedded database in ${dataDir} is in use by process ${lock.holder.pid}`);
  }

  let socketDir: string | undefined;
  try {
    await makeDataDirPrivate(dataDir);
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const { PrivateNodeFS } = await import('./private_node_fs.js');
    const pgdata = path.join(dataDir, 'pgdata');
    // NodeFS would create it 0777 less the umask.
    await mkdir(pgdata, { recursive: true, mode: 0o700 });
    const embedded = await PGlite.create({ dataDir: pgdata, fs: new PrivateNodeFS(pgdata) });
    // A private 0700 directory: only this user can reach the socket, and the path stays short
    // enough for a Unix socket whatever DATA_DIR is.
    socketDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-db-'));
    const server = new PGLiteSocketServer({
      db: embedded,
      path: path.join(socketDir, '.s.PGSQL.5432'),
      maxConnections: options.poolSize + 8,
    });
    await server.start();
    await publishSocket(dataDir, role, socketDir);
    const dir = socketDir;
    return dbOnPool('embedded', socketPool(dir, options.poolSize, options), async () => {
      await server.stop();
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
      await releaseLock(dataDir);
    });
  } catch (error) {
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
    await releaseLock(dataDir);
    throw error instanceof DataDirNotPrivate ? new DbOpenError(error.message) : error;
  }
}
