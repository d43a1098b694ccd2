import { describe, expect, it } from 'vitest';
import { readAhead, withReadAhead } from '../../../src/core/read_ahead.js';

// The read-ahead rows' contract (core/read_ahead.ts): kept only inside a request, taken once,
// forgotten after any write of the request, never kept from a read under way during a write.
// `withReadAhead` stands for a request (trackRequestContext runs every request in it).

const grant = { clientId: 'web', openid: { scope: 'openid' } };

/** Lets the event loop turn, as a batched statement's reply does. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('readAhead', () => {
  it('hands a kept row out once: the second take reads the database (undefined)', async () => {
    await withReadAhead(async () => {
      readAhead.begin().keep('Grant:1', grant);
      await nextTurn();
      expect(readAhead.take('Grant:1')).toBe(grant);
      expect(readAhead.take('Grant:1')).toBeUndefined();
    });
  });

  it('keeps nothing outside a request', () => {
    readAhead.begin().keep('Grant:1', grant);
    expect(readAhead.take('Grant:1')).toBeUndefined();
    // Nor for a request that starts later.
    withReadAhead(() => {
      expect(readAhead.take('Grant:1')).toBeUndefined();
    });
  });

  it('keeps a request’s rows from every other request', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = withReadAhead(async () => {
      readAhead.begin().keep('Grant:1', grant);
      await held;
      return readAhead.take('Grant:1');
    });
    const other = withReadAhead(() => readAhead.take('Grant:1'));
    release();
    expect(other).toBeUndefined();
    expect(await first).toBe(grant);
  });

  it('forgets every kept row after a write of the request', () => {
    withReadAhead(() => {
      readAhead.begin().keep('Grant:1', grant);
      readAhead.begin().keep('Session@uid:u1', { accountId: 'a' });
      readAhead.forgetAll();
      expect(readAhead.take('Grant:1')).toBeUndefined();
      expect(readAhead.take('Session@uid:u1')).toBeUndefined();
    });
  });

  it('does not keep the rows of a read under way when the request writes (same turn)', async () => {
    await withReadAhead(async () => {
      const read = readAhead.begin(); // the token's statement goes out...
      readAhead.forgetAll(); // ...the request saves its grant in the same turn...
      await nextTurn();
      read.keep('Grant:1', grant); // ...and the token's reply brings the grant as it was before.
      expect(readAhead.take('Grant:1')).toBeUndefined();
    });
  });

  it('keeps the rows of a read begun after a write', async () => {
    await withReadAhead(async () => {
      readAhead.forgetAll();
      const read = readAhead.begin();
      await nextTurn();
      read.keep('Grant:1', grant);
      expect(readAhead.take('Grant:1')).toBe(grant);
    });
  });

  it('does not let another request’s write drop this request’s rows', () => {
    withReadAhead(() => {
      const read = readAhead.begin();
      withReadAhead(() => {
        readAhead.forgetAll();
      });
      read.keep('Grant:1', grant);
      expect(readAhead.take('Grant:1')).toBe(grant);
    });
  });
});
