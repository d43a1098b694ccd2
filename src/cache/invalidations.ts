// The record of what changed, for the read caches (read_cache.ts): a generation number that
// grows with every invalidation, and the generation at which each tag was last invalidated.
//
// A read that began before an invalidation must not put what it read into a cache afterwards
// (read from the database → the row changes, its notification arrives and drops nothing → the
// stale row is stored). A read takes the generation when it starts; what it read may be stored
// only if none of its tags was invalidated since. The per-tag record is bounded: when an old tag
// is forgotten, reads older than it are refused whole (`floor`), which is always safe.

import { LRUCache } from 'lru-cache';

const REMEMBERED_TAGS = 50_000;

export interface Invalidations {
  /** the generation a read starts at */
  now(): number;
  /** whether a read begun at `started` may store an entry with these tags */
  unchangedSince(started: number, tags: readonly string[]): boolean;
  /** records an invalidation of these tags; returns the new generation */
  record(tags: readonly string[]): number;
  /** everything changed (the cache was emptied): no read begun before now may store */
  recordAll(): number;
}

export function createInvalidations(): Invalidations {
  let generation = 0;
  let floor = 0;
  const lastChanged = new LRUCache<string, number>({
    max: REMEMBERED_TAGS,
    dispose: (changedAt) => {
      if (changedAt > floor) floor = changedAt;
    },
  });
  return {
    now: () => generation,
    unchangedSince(started, tags) {
      if (started < floor) return false;
      return tags.every((tag) => (lastChanged.get(tag, { updateAgeOnGet: false }) ?? 0) <= started);
    },
    record(tags) {
      generation += 1;
      for (const tag of tags) lastChanged.set(tag, generation);
      return generation;
    },
    recordAll() {
      generation += 1;
      floor = generation;
      lastChanged.clear();
      return generation;
    },
  };
}
