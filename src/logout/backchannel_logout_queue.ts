import type Provider from 'oidc-provider';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import { claimDueNotices, deleteNotice, recordFailedAttempt, storeLogoutNotices, type LogoutNotice, type QueuedNotice } from '../storage/logout_notices.js';

// Back-channel logout that survives failures and restarts. oidc-provider sends a logout token
// to each client of a session being ended and gives up on the first error. Here every notice
// is written to Postgres first, sent at once (in parallel, within the library's 2.5 s request
// timeout, so a slow or dead RP holds a sign-out for no longer than that), deleted when the RP
// acknowledged it, and otherwise retried with exponential backoff by any running instance.

interface BackchannelQueueSettings {
  /** first retry delay; each later one doubles, up to an hour */
  retryBaseMs: number;
  /** attempts before a notice is dropped (and logged as given up) */
  maxAttempts: number;
}

export interface BackchannelQueueDeps {
  db: Db;
  log: Logger;
  /** the provider serving now: it signs the logout tokens */
  provider: () => Provider;
  settings: BackchannelQueueSettings;
}

export interface BackchannelQueue {
  /** Makes end-session (and anything else calling client.backchannelLogout) go through the queue. */
  install(provider: Provider): void;
  /** Queues notices and sends them now; failures stay queued for retry. Resolves when all were tried. */
  send(notices: LogoutNotice[]): Promise<void>;
  /** Sends every notice that is due (a failed one whose backoff passed, or one a dead process left). */
  deliverDue(limit?: number): Promise<{ delivered: number; failed: number }>;
  startRetrying(intervalMs: number): { stop(): void };
}

/** How long a notice being sent is hidden from other senders; longer than any one attempt. */
const CLAIM_SECONDS = 30;
const MAX_BACKOFF_MS = 3600_000;

type SendLogout = (this: unknown, sub: string, sid: string | undefined) => Promise<void>;
interface ClientPrototype {
  backchannelLogout: SendLogout;
  [LIBRARY_SEND]?: SendLogout;
}
const LIBRARY_SEND = Symbol('gatehouse.libraryBackchannelLogout');

export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(attempts - 1, 0), MAX_BACKOFF_MS);
}

export function createBackchannelQueue(deps: BackchannelQueueDeps): BackchannelQueue {
  const { db, log, settings } = deps;
  const enqueue = (notices: LogoutNotice[]) => storeLogoutNotices(db, notices, CLAIM_SECONDS);

  /** One attempt. Resolves on acknowledgement, rejects with the reason otherwise; the row is updated either way. */
  async function attempt(notice: QueuedNotice): Promise<'delivered' | 'dropped'> {
    const provider = deps.provider();
    const client = await provider.Client.find(notice.clientId);
    const send = client && (Object.getPrototypeOf(client) as ClientPrototype)[LIBRARY_SEND];
    if (!client || !client.backchannelLogoutUri || !send) {
      // The client was removed or no longer takes back-channel logouts: nothing to deliver.
      await deleteNotice(db, notice.id);
      return 'dropped';
    }
    try {
      await send.call(client, notice.sub, notice.sid);
    } catch (error) {
      const attempts = notice.attempts + 1;
      const message = (error as Error).message.slice(0, 500);
      if (attempts >= settings.maxAttempts) {
        await deleteNotice(db, notice.id);
        log.error(
          { event: 'backchannel.gave_up', client_id: notice.clientId, sub: notice.sub, sid: notice.sid, attempts, error: message },
          'back-channel logout abandoned after repeated failures',
        );
      } else {
        const delay = retryDelayMs(attempts, settings.retryBaseMs);
        await recordFailedAttempt(db, notice.id, message, delay / 1000);
        log.warn(
          { event: 'backchannel.retry_scheduled', client_id: notice.clientId, sub: notice.sub, sid: notice.sid, attempts, retry_in_ms: delay, error: message },
          'back-channel logout failed; will retry',
        );
      }
      throw error;
    }
    await deleteNotice(db, notice.id);
    return 'delivered';
  }

  /** An attempt reported through the provider's events, as the library reports its own (logs, metrics). */
  async function attemptAndReport(notice: QueuedNotice): Promise<boolean> {
    const provider = deps.provider();
    const client = { clientId: notice.clientId };
    try {
      if ((await attempt(notice)) === 'delivered') provider.emit('backchannel.success', undefined, client, notice.sub, notice.sid);
      return true;
    } catch (error) {
      provider.emit('backchannel.error', undefined, error, client, notice.sub, notice.sid);
      return false;
    }
  }

  const queue: BackchannelQueue = {
    install(provider) {
      const proto = provider.Client.prototype as unknown as ClientPrototype;
      if (proto[LIBRARY_SEND]) return;
      proto[LIBRARY_SEND] = proto.backchannelLogout;
      // end_session awaits this for every client of the session and emits backchannel.success
      // or .error from its outcome; the notice is stored before the first try.
      proto.backchannelLogout = async function queuedBackchannelLogout(this: unknown, sub, sid) {
        const { clientId } = this as { clientId: string };
        const [notice] = await enqueue([{ clientId, sub, sid }]);
        if (!notice) throw new Error('the back-channel logout notice was not stored');
        await attempt(notice);
      };
    },

    async send(notices) {
      const queued = await enqueue(notices);
      await Promise.all(queued.map(attemptAndReport));
    },

    async deliverDue(limit = 50) {
      const due = await claimDueNotices(db, limit, CLAIM_SECONDS);
      const results = await Promise.all(due.map(attemptAndReport));
      const delivered = results.filter(Boolean).length;
      return { delivered, failed: results.length - delivered };
    },

    startRetrying(intervalMs) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        queue
          .deliverDue()
          .catch((error: unknown) => log.warn({ err: error }, 'back-channel logout retry pass failed'))
          .finally(() => {
            running = false;
          });
      }, intervalMs);
      timer.unref();
      return { stop: () => clearInterval(timer) };
    },
  };
  return queue;
}
