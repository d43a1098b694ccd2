import pg from 'pg';

// One dedicated connection per process, LISTENing on the channel the database announces every
// change on (migration 0021). Not a pool connection: a LISTEN belongs to one server session,
// which a transaction-mode pooler does not keep (README "PgBouncer"). While it is down the
// caches it feeds are emptied and bypassed (`onDown`); it reconnects with a growing delay, and
// only once LISTEN is in place again are they used (`onUp`): whatever was announced meanwhile
// was missed, so nothing kept from before counts.

export const CHANNEL = 'gatehouse_cache';

const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5_000;
/**
 * A connection whose network silently died raises no error: nothing would tell the caches that
 * announcements stopped arriving. A heartbeat every HEARTBEAT_MS that must answer within
 * HEARTBEAT_TIMEOUT_MS bounds how long that can go unnoticed (README "Caches").
 */
const HEARTBEAT_MS = 500;
const HEARTBEAT_TIMEOUT_MS = 1_000;

export interface ListenerEvents {
  onMessage(payload: string): void;
  onUp(): void;
  /** `wasUp`: it had been listening (else a reconnection attempt failed) */
  onDown(wasUp: boolean, error: Error | undefined): void;
}

export interface InvalidationListener {
  readonly connected: boolean;
  /** the listening connection's server process id (tests end it to check recovery) */
  readonly backendPid: number | undefined;
  stop(): Promise<void>;
}

export function startInvalidationListener(config: pg.ClientConfig, events: ListenerEvents): InvalidationListener {
  let client: pg.Client | undefined;
  let connected = false;
  let stopped = false;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let backendPid: number | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  function beat(which: pg.Client): void {
    let answered = false;
    const late = setTimeout(() => {
      if (!answered) lost(which, new Error(`the cache listener's connection did not answer within ${HEARTBEAT_TIMEOUT_MS} ms`));
    }, HEARTBEAT_TIMEOUT_MS);
    late.unref();
    which.query('SELECT 1').then(
      () => {
        answered = true;
        clearTimeout(late);
      },
      (error: unknown) => {
        clearTimeout(late);
        lost(which, error as Error);
      },
    );
  }

  function lost(which: pg.Client, error: Error | undefined): void {
    if (which !== client) return;
    clearInterval(heartbeat);
    client = undefined;
    backendPid = undefined;
    which.removeAllListeners('notification');
    // A broken client may still emit; nothing it says matters any more.
    which.on('error', () => undefined);
    which.end().catch(() => undefined);
    const wasUp = connected;
    connected = false;
    // Told even when it never came up: the caches are bypassed already, this only says so again.
    events.onDown(wasUp, error);
    if (stopped) return;
    retryTimer = setTimeout(() => void connect(), retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  }

  async function connect(): Promise<void> {
    const next = new pg.Client({ ...config, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    client = next;
    next.on('notification', (message) => {
      if (next === client && connected && message.channel === CHANNEL && message.payload !== undefined) events.onMessage(message.payload);
    });
    next.on('error', (error) => lost(next, error));
    next.on('end', () => lost(next, undefined));
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
      const { rows } = await next.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (next !== client || stopped) return;
      backendPid = rows[0]?.pid;
      connected = true;
      retryMs = FIRST_RETRY_MS;
      heartbeat = setInterval(() => beat(next), HEARTBEAT_MS);
      heartbeat.unref();
      events.onUp();
    } catch (error) {
      lost(next, error as Error);
    }
  }

  void connect();
  return {
    get connected() {
      return connected;
    },
    get backendPid() {
      return backendPid;
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeat);
      const current = client;
      client = undefined;
      connected = false;
      if (current) {
        current.on('error', () => undefined);
        await current.end().catch(() => undefined);
      }
    },
  };
}
