import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/config/format_issues.js';

// MFA_ENCRYPTION_KEY and MFA_ENCRYPTION_KEY_PREVIOUS: 32-byte keys as base64 or hex; anything
// else stops the start with the variable named, and the value is never echoed.

function problemsOf(source: Record<string, string>): string[] {
  try {
    loadEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('MFA_ENCRYPTION_KEY', () => {
  it('is unset by default (the database key is used)', () => {
    expect(loadEnv({}).mfaKeys).toEqual({ current: undefined, previous: [] });
  });

  it('takes base64, base64url and hex, and a comma-separated list of previous keys', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const env = loadEnv({ MFA_ENCRYPTION_KEY: a.toString('base64'), MFA_ENCRYPTION_KEY_PREVIOUS: `${b.toString('hex')}, ${c.toString('base64url')}` });
    expect(env.mfaKeys.current?.equals(a)).toBe(true);
    expect(env.mfaKeys.previous.map((k) => k.toString('hex'))).toEqual([b.toString('hex'), c.toString('hex')]);
  });

  it('refuses a key of the wrong length without printing it', () => {
    const short = randomBytes(16).toString('base64');
    const problems = problemsOf({ MFA_ENCRYPTION_KEY: short });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^MFA_ENCRYPTION_KEY: must be 32 bytes/);
    expect(problems.join()).not.toContain(short);
    expect(problemsOf({ MFA_ENCRYPTION_KEY_PREVIOUS: 'not-a-key' })[0]).toMatch(/^MFA_ENCRYPTION_KEY_PREVIOUS: each key must be 32 bytes/);
  });
});
