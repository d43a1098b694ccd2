import { LRUCache } from 'lru-cache';
import { createInvalidations } from './invalidations.js';

// What hot paths read again and again, kept in this process's memory (README "Caches"): tokens
// being introspected or presented at userinfo, each with its grant, session and user. Entries
// are JSON text, parsed afresh for each caller, so nothing a request does to a payload reaches
// the next one; their size (the text's length plus an allowance per entry) counts against one
// byte cap, the least recently used going first.
//
// Never a stale answer: an entry goes
// - when this process writes what it was read from (the storage adapter calls `invalidate`
//   before and after each write),
// - when any process writes it: the database announces every change (migration 0021) and the
//   listener (invalidation_listener.ts) hands it to `invalidate`,
// - when its expiry passes (checked on every hit),
// and while the listener is not connected the cache is empty and bypassed (`suspend`/`resume`):
// a change announced then would be missed.

/** What a cache entry is; each kind has its hit and miss counts on /metrics. */
export type CacheKind = 'token';

export interface CacheStats {
  kind: CacheKind;
  hits: number;
  misses: number;
}

/** A read's start, for `store`: what it read is kept only if nothing it depends on changed since. */
export interface ReadTicket {
  readonly generation: number;
  readonly active: boolean;
}

export interface ReadCache {
  /** true while entries are served (the listener is connected, the cap is not 0) */
  readonly active: boolean;
  /**
   * the entry's JSON text if it is kept and not expired; counts a hit or (unless `countsMiss` is
   * false, for a caller that may still answer from another entry: then it calls `missed`) a miss
   */
  get(kind: CacheKind, key: string, countsMiss?: boolean): string | undefined;
  /** counts a miss (after a `get` that did not) */
  missed(kind: CacheKind): void;
  /** whether an unexpired entry is kept under `key`; counts a hit when it is (the answer came from here) */
  has(kind: CacheKind, key: string): boolean;
  /** taken before reading from the database */
  begin(): ReadTicket;
  /**
   * Keeps `json` under `key` until one of `tags` is invalidated or `validUntil` (epoch ms)
   * passes, unless the cache was emptied or a tag invalidated since `ticket` was taken.
   */
  store(ticket: ReadTicket, kind: CacheKind, key: string, json: string, tags: readonly string[], validUntil: number): void;
  /** drops every entry carrying any of these tags (a tag is also each entry's own key) */
  invalidate(tags: readonly string[]): void;
  /** drops everything (a change whose tags are not known here) */
  invalidateAll(): void;
  /** empties the cache and serves nothing from it until `resume` */
  suspend(): void;
  resume(): void;
  stats(): CacheStats[];
  /** entries and their counted bytes, for tests and /metrics */
  size(): { entries: number; bytes: number };
}

interface Entry {
  json: string;
  tags: readonly string[];
  validUntil: number;
}

// The V8 heap an entry takes besides its text, so that CACHE_MAX_MB bounds the heap the cache
// holds, for many small entries too. Measured on Node 24 (heap after a full GC, 20,000 entries
// with 1 to 7 distinct tags): ≈ 190 bytes per entry (the entry, its tag array, the LRU's map
// slot and lists) and ≈ 300 per tag (the tag's string and its own Set in the tag index). The
// earlier 300 + 120 undercounted by half: a 16 MB cap held 24 MB of heap.
const ENTRY_OVERHEAD = 200;
const TAG_OVERHEAD = 300;

export interface ReadCacheOptions {
  maxBytes: number;
  /** whether entries are served from the start (false: only once `resume` is called) */
  active: boolean;
  now?: () => number;
}

export function createReadCache({ maxBytes, active: startActive, now = Date.now }: ReadCacheOptions): ReadCache {
  const invalidations = createInvalidations();
  const enabled = maxBytes > 0;
  let active = enabled && startActive;
  // Keys are the kind's own (token_reads.ts: `t:…`), so kinds never meet in the LRU.
  const counts: Record<CacheKind, { hits: number; misses: number }> = { token: { hits: 0, misses: 0 } };
  const byTag = new Map<string, Set<string>>();

  const untag = (key: string, entry: Entry) => {
    for (const tag of entry.tags) {
      const keys = byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) byTag.delete(tag);
    }
  };
  const entries = new LRUCache<string, Entry>({
    maxSize: Math.max(maxBytes, 1),
    sizeCalculation: (entry) => entry.json.length + ENTRY_OVERHEAD + entry.tags.reduce((sum, tag) => sum + tag.length + TAG_OVERHEAD, 0),
    dispose: (entry, key) => untag(key, entry),
  });

  const drop = (tags: readonly string[]) => {
    for (const tag of tags) {
      const keys = byTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) entries.delete(key);
    }
  };

  return {
    get active() {
      return active;
    },
    get(kind, key, countsMiss = true) {
      const count = counts[kind];
      const entry = active ? entries.get(key) : undefined;
      if (entry !== undefined && entry.validUntil <= now()) entries.delete(key);
      else if (entry !== undefined) {
        count.hits += 1;
        return entry.json;
      }
      if (countsMiss) count.misses += 1;
      return undefined;
    },
    missed(kind) {
      counts[kind].misses += 1;
    },
    has(kind, key) {
      if (!active) return false;
      const entry = entries.peek(key);
      if (entry === undefined || entry.validUntil <= now()) return false;
      counts[kind].hits += 1;
      return true;
    },
    begin: () => ({ generation: invalidations.now(), active }),
    store(ticket, _kind, key, json, tags, validUntil) {
      if (!active || !ticket.active || validUntil <= now()) return;
      const allTags = tags.includes(key) ? tags : [key, ...tags];
      if (!invalidations.unchangedSince(ticket.generation, allTags)) return;
      const entry: Entry = { json, tags: allTags, validUntil };
      entries.set(key, entry);
      // Too big for the cap: lru-cache refused it (and disposed nothing of ours).
      if (entries.peek(key) !== entry) return;
      for (const tag of allTags) {
        let keys = byTag.get(tag);
        if (!keys) byTag.set(tag, (keys = new Set()));
        keys.add(key);
      }
    },
    invalidate(tags) {
      invalidations.record(tags);
      drop(tags);
    },
    invalidateAll() {
      invalidations.recordAll();
      entries.clear();
    },
    suspend() {
      active = false;
      invalidations.recordAll();
      entries.clear();
    },
    resume() {
      invalidations.recordAll();
      entries.clear();
      active = enabled;
    },
    stats: () => Object.entries(counts).map(([kind, c]) => ({ kind: kind as CacheKind, ...c })),
    size: () => ({ entries: entries.size, bytes: entries.calculatedSize }),
  };
}
