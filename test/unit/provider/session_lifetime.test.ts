import { describe, expect, it, vi } from 'vitest';
import { sessionTtlSeconds } from '../../../src/provider/session_lifetime.js';

const LIFETIME = { idleSeconds: 3600, maxSeconds: 86_400 };
const NOW = 1_800_000_000;

describe('sessionTtlSeconds', () => {
  it('gives a session without a sign-in time the idle limit', () => {
    expect(sessionTtlSeconds(undefined, LIFETIME, NOW)).toBe(3600);
    expect(sessionTtlSeconds(0, LIFETIME, NOW)).toBe(3600);
  });

  it('renews the idle limit while the absolute limit is far off', () => {
    expect(sessionTtlSeconds(NOW - 60, LIFETIME, NOW)).toBe(3600);
  });

  it('is capped by what is left of the absolute limit', () => {
    expect(sessionTtlSeconds(NOW - 86_400 + 120, LIFETIME, NOW)).toBe(120);
  });

  it('never goes below one second, even past the absolute limit', () => {
    expect(sessionTtlSeconds(NOW - 86_400, LIFETIME, NOW)).toBe(1);
    expect(sessionTtlSeconds(NOW - 10 * 86_400, LIFETIME, NOW)).toBe(1);
  });

  it('uses the absolute limit when it is shorter than the idle one', () => {
    expect(sessionTtlSeconds(NOW, { idleSeconds: 7200, maxSeconds: 600 }, NOW)).toBe(600);
  });

  it('reads the clock when no time is given', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW * 1000 });
    try {
      expect(sessionTtlSeconds(NOW - 86_400 + 500, LIFETIME)).toBe(500);
    } finally {
      vi.useRealTimers();
    }
  });
});
