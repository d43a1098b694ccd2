import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/config/format_issues.js';

function problemsOf(source: Record<string, string>): string[] {
  try {
    loadEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadEnv', () => {
  it('runs with nothing set, on documented defaults', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      databaseUrl: undefined,
      dataDir: path.resolve('./data'),
      logLevel: 'info',
      trustProxy: { kind: 'off' },
      session: { idleSeconds: 14 * 86400, maxSeconds: 30 * 86400 },
      backchannel: { retryBaseMs: 10_000, maxAttempts: 12 },
      secureCookies: false,
    });
  });

  it('derives the issuer from PORT, drops trailing slashes, and turns on secure cookies for https', () => {
    expect(loadEnv({ PORT: '8080' }).issuer).toBe('http://localhost:8080');
    const env = loadEnv({ ISSUER: 'https://id.example.com//' });
    expect(env.issuer).toBe('https://id.example.com');
    expect(env.secureCookies).toBe(true);
  });

  it('converts seconds settings to milliseconds where the code wants them', () => {
    const env = loadEnv({ KEY_REFRESH_SECONDS: '5', BACKCHANNEL_RETRY_SECONDS: '0.5', SWEEP_INTERVAL_SECONDS: '60' });
    expect(env).toMatchObject({ keyRefreshMs: 5000, sweepIntervalMs: 60_000, backchannel: { retryBaseMs: 500 } });
  });

  it('treats an empty DATABASE_URL or METRICS_TOKEN as unset', () => {
    expect(loadEnv({ DATABASE_URL: '', METRICS_TOKEN: '' })).toMatchObject({ databaseUrl: undefined, metricsToken: undefined });
  });

  it('names each bad variable with what it must be, all at once', () => {
    const found = problemsOf({ ISSUER: 'ftp://id.example', DATABASE_URL: 'mysql://db', METRICS_TOKEN: 'short', PORT: '70000' });
    expect(found).toEqual(
      expect.arrayContaining([
        'ISSUER: must be an http(s) URL',
        'DATABASE_URL: must be a postgres:// URL',
        'METRICS_TOKEN: must be at least 16 characters (e.g. openssl rand -base64 32)',
        expect.stringMatching(/^PORT: /),
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it('passes TRUST_PROXY’s own message through', () => {
    expect(problemsOf({ TRUST_PROXY: 'nginx' })).toEqual([
      'TRUST_PROXY: "nginx" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8,192.0.2.1)',
    ]);
    expect(loadEnv({ TRUST_PROXY: 'true' }).trustProxyDeprecation).toMatch(/deprecated/);
  });

  it('refuses a non-number and a session shorter than a minute', () => {
    expect(problemsOf({ SESSION_IDLE_SECONDS: 'two weeks' })).toEqual([expect.stringMatching(/^SESSION_IDLE_SECONDS: /)]);
    expect(problemsOf({ SESSION_MAX_SECONDS: '30' })).toEqual([expect.stringMatching(/^SESSION_MAX_SECONDS: .*60/)]);
  });

  it('reads WEB_CONCURRENCY=auto as the machine’s parallelism', () => {
    expect(loadEnv({ WEB_CONCURRENCY: 'auto' }).webConcurrency).toBeGreaterThanOrEqual(1);
    expect(loadEnv({ WEB_CONCURRENCY: '3' }).webConcurrency).toBe(3);
    expect(problemsOf({ WEB_CONCURRENCY: '0' })).toEqual([expect.stringMatching(/^WEB_CONCURRENCY: /)]);
  });

  it('names the log level choices', () => {
    expect(problemsOf({ LOG_LEVEL: 'verbose' })[0]).toMatch(/^LOG_LEVEL: .*"info"/);
  });
});
