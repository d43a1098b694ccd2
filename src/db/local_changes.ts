// Changes this process made to rows that a read cache may keep (users, sessions, grants), told to
// this process's caches at once (cache/caches.ts subscribes). The database announces every change
// to every instance too (migration 0021), but that announcement comes back a moment after the
// write; this process's next request must not be served the old row in that moment.

/** `*`: some row changed whose cache tag the writer does not know; everything cached goes. */
export const EVERYTHING = '*';

export interface LocalChanges {
  announce(tags: readonly string[]): void;
  subscribe(listener: (tags: readonly string[]) => void): void;
}

export function createLocalChanges(): LocalChanges {
  const listeners: ((tags: readonly string[]) => void)[] = [];
  return {
    announce(tags) {
      if (tags.length === 0) return;
      for (const listener of listeners) listener(tags);
    },
    subscribe: (listener) => void listeners.push(listener),
  };
}
