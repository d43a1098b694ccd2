import type pg from 'pg';
import { EVERYTHING, type LocalChanges } from '../db/local_changes.js';
import { createReadCache, type ReadCache } from './read_cache.js';
import { startInvalidationListener, type InvalidationListener } from './invalidation_listener.js';

// The process's caches and the listener that keeps them true (README "Caches"). Without a
// direct connection to listen on (embedded PGlite, whose socket carries no notifications; a
// transaction-mode pooler without DATABASE_LISTEN_URL) or with CACHE_MAX_MB=0 there is no
// cache: every read goes to the database, which is always correct.

export interface CacheEvents {
  /** a client's row changed (`null`: any client may have, e.g. after the listener was down) */
  clientChanged(listener: (clientId: string | null) => void): void;
  /** the keys table changed (or may have, while the listener was down) */
  keysChanged(listener: () => void): void;
}

export interface Caches extends CacheEvents {
  read: ReadCache;
  /** why there is no cache, or null when there is one */
  readonly disabledBecause: string | null;
  /** null when there is no listener */
  readonly listener: InvalidationListener | null;
  close(): Promise<void>;
}

export interface CachesOptions {
  /** a direct connection to the database (not through a transaction pooler), or null */
  listenConfig: pg.ClientConfig | null;
  /** why there is no listen connection, when there is none */
  noListenReason?: string;
  maxBytes: number;
  /** this process's own writes (db/local_changes.ts), applied at once */
  localChanges?: LocalChanges;
  onListenerDown?: (error: Error | undefined) => void;
  onListenerUp?: () => void;
}

export function createCaches(options: CachesOptions): Caches {
  const clientListeners: ((clientId: string | null) => void)[] = [];
  const keyListeners: (() => void)[] = [];
  const disabledBecause = options.maxBytes <= 0 ? 'CACHE_MAX_MB is 0' : options.listenConfig ? null : (options.noListenReason ?? 'no connection to listen on');
  const read = createReadCache({ maxBytes: disabledBecause ? 0 : options.maxBytes, active: false });

  options.localChanges?.subscribe((tags) => (tags.includes(EVERYTHING) ? read.invalidateAll() : read.invalidate(tags)));

  const everythingMayHaveChanged = () => {
    for (const listener of clientListeners) listener(null);
    for (const listener of keyListeners) listener();
  };

  const listener =
    disabledBecause || !options.listenConfig
      ? null
      : startInvalidationListener(options.listenConfig, {
          onMessage(payload) {
            if (payload === 'k') for (const l of keyListeners) l();
            else if (payload.startsWith('c:')) for (const l of clientListeners) l(payload.slice(2));
            else read.invalidate([payload]);
          },
          onUp() {
            read.resume();
            everythingMayHaveChanged();
            options.onListenerUp?.();
          },
          onDown(wasUp, error) {
            read.suspend();
            // Once per loss, not at every failed reconnection.
            if (!wasUp) return;
            everythingMayHaveChanged();
            options.onListenerDown?.(error);
          },
        });

  return {
    read,
    disabledBecause,
    listener,
    clientChanged: (l) => void clientListeners.push(l),
    keysChanged: (l) => void keyListeners.push(l),
    async close() {
      read.suspend();
      await listener?.stop();
    },
  };
}

/** No cache at all: what tests and tools that build a provider on their own get. */
export function noCaches(): Caches {
  return createCaches({ listenConfig: null, noListenReason: 'not configured', maxBytes: 0 });
}
