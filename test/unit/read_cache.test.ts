import { describe, expect, it } from 'vitest';
import { createReadCache } from '../../src/cache/read_cache.js';

// The read cache's own promises (cache/read_cache.ts), on a clock the test moves: never an entry
// past its expiry, never a value read before an invalidation stored after it, nothing served
// while suspended (the listener down), and a cap in bytes that holds.

function cacheAt(start = 1_000_000, maxBytes = 1_000_000) {
  let now = start;
  const cache = createReadCache({ maxBytes, active: true, now: () => now });
  return { cache, advance: (ms: number) => (now += ms), now: () => now };
}

describe('read cache', () => {
  it('serves an entry until its expiry, never at or after it', () => {
    const { cache, advance, now } = cacheAt();
    cache.store(cache.begin(), 'token', 't:AccessToken:x', '{"a":1}', ['g:1'], now() + 1000);
    expect(cache.get('token', 't:AccessToken:x')).toBe('{"a":1}');
    advance(999);
    expect(cache.get('token', 't:AccessToken:x')).toBe('{"a":1}');
    advance(1);
    expect(cache.get('token', 't:AccessToken:x')).toBeUndefined();
    advance(-500);
    // Gone, not hidden: what expired was dropped.
    expect(cache.get('token', 't:AccessToken:x')).toBeUndefined();
  });

  it('does not store what a read begun before an invalidation of one of its tags brought back', () => {
    const { cache, now } = cacheAt();
    const ticket = cache.begin();
    // The read is under way when the grant's revocation is announced.
    cache.invalidate(['g:1']);
    cache.store(ticket, 'token', 't:AccessToken:x', '{"stale":true}', ['g:1'], now() + 60_000);
    expect(cache.get('token', 't:AccessToken:x')).toBeUndefined();
    // Its own key counts as a tag too.
    const second = cache.begin();
    cache.invalidate(['t:AccessToken:y']);
    cache.store(second, 'token', 't:AccessToken:y', '{"stale":true}', [], now() + 60_000);
    expect(cache.get('token', 't:AccessToken:y')).toBeUndefined();
    // A read begun after the invalidation stores, and an unrelated invalidation does not stop it.
    const third = cache.begin();
    cache.invalidate(['g:2']);
    cache.store(third, 'token', 't:AccessToken:x', '{"fresh":true}', ['g:1'], now() + 60_000);
    expect(cache.get('token', 't:AccessToken:x')).toBe('{"fresh":true}');
  });

  it('drops every entry carrying an invalidated tag, and only those', () => {
    const { cache, now } = cacheAt();
    const until = now() + 60_000;
    cache.store(cache.begin(), 'token', 't:AccessToken:a', 'a', ['g:1', 'a:alice'], until);
    cache.store(cache.begin(), 'token', 't:RefreshToken:b', 'b', ['g:1'], until);
    cache.store(cache.begin(), 'token', 't:AccessToken:c', 'c', ['g:2', 'a:alice'], until);
    cache.invalidate(['g:1']);
    expect(cache.get('token', 't:AccessToken:a')).toBeUndefined();
    expect(cache.get('token', 't:RefreshToken:b')).toBeUndefined();
    expect(cache.get('token', 't:AccessToken:c')).toBe('c');
    cache.invalidate(['a:alice']);
    expect(cache.get('token', 't:AccessToken:c')).toBeUndefined();
    expect(cache.size().entries).toBe(0);
  });

  it('serves nothing while suspended, forgets everything, and refuses reads begun before it resumed', () => {
    const { cache, now } = cacheAt();
    const until = now() + 60_000;
    cache.store(cache.begin(), 'token', 't:AccessToken:a', 'a', [], until);
    const before = cache.begin();
    cache.suspend();
    expect(cache.active).toBe(false);
    expect(cache.get('token', 't:AccessToken:a')).toBeUndefined();
    cache.store(cache.begin(), 'token', 't:AccessToken:b', 'b', [], until);
    cache.resume();
    expect(cache.get('token', 't:AccessToken:a')).toBeUndefined();
    expect(cache.get('token', 't:AccessToken:b')).toBeUndefined();
    cache.store(before, 'token', 't:AccessToken:c', 'c', [], until);
    expect(cache.get('token', 't:AccessToken:c')).toBeUndefined();
    cache.store(cache.begin(), 'token', 't:AccessToken:d', 'd', [], until);
    expect(cache.get('token', 't:AccessToken:d')).toBe('d');
  });

  it('keeps within its cap in bytes, the least recently used going first', () => {
    const { cache, now } = cacheAt(0, 20_000);
    const until = now() + 60_000;
    const value = 'x'.repeat(1_000);
    for (let i = 0; i < 100; i++) {
      cache.store(cache.begin(), 'token', `t:AccessToken:${i}`, value, [`g:${i}`], until);
      expect(cache.get('token', 't:AccessToken:0'), `after ${i}`).toBe(value); // kept in use
    }
    expect(cache.size().bytes).toBeLessThanOrEqual(20_000);
    expect(cache.size().entries).toBeLessThan(20);
    expect(cache.get('token', 't:AccessToken:0')).toBe(value);
    expect(cache.get('token', 't:AccessToken:1')).toBeUndefined();
    expect(cache.get('token', 't:AccessToken:99')).toBe(value);
    // An entry larger than the whole cap is not kept, and leaves nothing behind in the tag index.
    cache.store(cache.begin(), 'token', 't:AccessToken:big', 'y'.repeat(30_000), ['g:big'], until);
    expect(cache.get('token', 't:AccessToken:big')).toBeUndefined();
    cache.invalidate(['g:big']);
    expect(cache.get('token', 't:AccessToken:99')).toBe(value);
  });

  it("counts each tag's share of the heap against the cap, not only the text", () => {
    // Tiny entries with many tags: each tag costs a slot in the tag index (a Set of its own), so
    // a 50 KB cap holds far fewer of them than their text alone would suggest.
    const { cache, now } = cacheAt(0, 50_000);
    const until = now() + 60_000;
    for (let i = 0; i < 100; i++) {
      const tags = Array.from({ length: 10 }, (_, j) => `s:${i}:${j}`);
      cache.store(cache.begin(), 'token', `t:AccessToken:${i}`, '{}', tags, until);
    }
    expect(cache.size().bytes).toBeLessThanOrEqual(50_000);
    expect(cache.size().entries).toBeLessThan(20);
    expect(cache.get('token', 't:AccessToken:99')).toBe('{}');
  });

  it('with a cap of 0 keeps nothing', () => {
    const cache = createReadCache({ maxBytes: 0, active: true });
    cache.resume();
    expect(cache.active).toBe(false);
    cache.store(cache.begin(), 'token', 't:AccessToken:a', 'a', [], Date.now() + 60_000);
    expect(cache.get('token', 't:AccessToken:a')).toBeUndefined();
  });
});
