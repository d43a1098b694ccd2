import { describe, expect, it } from 'vitest';
import { splitPoolMode } from '../../../src/db/pool_mode.js';
import { openDb } from '../../../src/db/open_db.js';

describe('DATABASE_URL pool_mode', () => {
  it('is session mode when absent, and leaves the URL alone', () => {
    const url = 'postgres://gatehouse:secret@db:5432/gatehouse?sslmode=require';
    expect(splitPoolMode(url)).toEqual({ connectionString: url, poolMode: 'session' });
  });

  it('takes pool_mode=transaction off the URL, keeping the other parameters', () => {
    const { connectionString, poolMode } = splitPoolMode('postgres://gatehouse@pgbouncer:6432/gatehouse?sslmode=require&pool_mode=transaction');
    expect(poolMode).toBe('transaction');
    expect(connectionString).toBe('postgres://gatehouse@pgbouncer:6432/gatehouse?sslmode=require');
  });

  it('refuses another value with a message naming the setting, before any connection is tried', async () => {
    expect(() => splitPoolMode('postgres://db/gatehouse?pool_mode=statement')).toThrow(
      'DATABASE_URL: pool_mode must be "session" or "transaction", not "statement"',
    );
    await expect(
      openDb({ databaseUrl: 'postgres://127.0.0.1:1/x?pool_mode=statement', dataDir: '/nonexistent', poolSize: 1, role: 'server' }),
    ).rejects.toMatchObject({
      code: 'ERR_DB_OPEN',
      message: expect.stringContaining('pool_mode must be'),
    });
  });
});
