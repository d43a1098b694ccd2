import { describe, expect, it } from 'vitest';
import { setRetryAfter } from '../../../src/http/retry_after.js';

function headers() {
  const set = new Map<string, string>();
  return { set: (field: string, value: string) => set.set(field, value), get: (field: string) => set.get(field) };
}

describe('setRetryAfter', () => {
  it('writes whole seconds', () => {
    const target = headers();
    setRetryAfter(target, 30);
    expect(target.get('retry-after')).toBe('30');
  });

  it('rounds a fraction up, so a client never comes back too early', () => {
    const target = headers();
    setRetryAfter(target, 0.2);
    expect(target.get('retry-after')).toBe('1');
  });

  it('never writes a negative wait', () => {
    const target = headers();
    setRetryAfter(target, -3);
    expect(target.get('retry-after')).toBe('0');
  });
});
