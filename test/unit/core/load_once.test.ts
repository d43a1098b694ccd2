import { describe, expect, it } from 'vitest';
import { loadOnce } from '../../../src/core/load_once.js';

// Modules imported on first use (core/load_once.ts): one import however many callers, and a
// failed one tried again rather than remembered.

describe('loadOnce', () => {
  it('loads once for every caller, concurrent or later', async () => {
    let loads = 0;
    const load = loadOnce(async () => ({ n: ++loads }));
    const [a, b] = await Promise.all([load(), load()]);
    const c = await load();
    expect(loads).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('reports a failed load to its callers and tries again on the next call', async () => {
    let attempts = 0;
    const load = loadOnce(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('broken install');
      return 'module';
    });
    await expect(Promise.all([load(), load()])).rejects.toThrow('broken install');
    expect(attempts).toBe(1);
    await expect(load()).resolves.toBe('module');
    await expect(load()).resolves.toBe('module');
    expect(attempts).toBe(2);
  });
});
