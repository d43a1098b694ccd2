import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../src/logout/backchannel_logout_queue.js';

describe('retryDelayMs', () => {
  it('waits the base delay after the first failure and doubles it after each further one', () => {
    expect([1, 2, 3, 4, 5].map((attempts) => retryDelayMs(attempts, 10_000))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000]);
  });

  it('treats zero attempts like the first', () => {
    expect(retryDelayMs(0, 500)).toBe(500);
  });

  it('never waits more than an hour', () => {
    expect(retryDelayMs(9, 10_000)).toBe(2_560_000);
    expect(retryDelayMs(10, 10_000)).toBe(3_600_000);
    expect(retryDelayMs(100, 10_000)).toBe(3_600_000);
  });

  it('scales with a short base (as the tests configure it)', () => {
    expect(retryDelayMs(3, 100)).toBe(400);
  });
});
