import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, expectOneLineError, runCli, type CliDatabase } from './cli_harness.js';

// `gatehouse users show|set-claim|unset-claim|roles …`: what they print, the claims they leave
// in the users row, their audit rows, and their refusals (exit 1, one line, no stack).

let cli: CliDatabase;
beforeAll(async () => {
  cli = await createCliDatabase();
  const added = await runCli(['users', 'add', 'carol', '--email', 'carol@example.com', '--name', 'Carol', '--password-stdin'], {
    env: cli.env,
    stdin: 'correct horse battery staple',
  });
  expect(added.code).toBe(0);
});
afterAll(async () => {
  await cli?.close();
});

const users = (...args: string[]) => runCli(['users', ...args], { env: cli.env });

async function row(): Promise<{ claims: Record<string, unknown>; updated_at: Date }> {
  const { rows } = await cli.db.query<{ claims: Record<string, unknown>; updated_at: Date }>("SELECT claims, updated_at FROM users WHERE username = 'carol'");
  return rows[0]!;
}

describe('gatehouse users set-claim / unset-claim', () => {
  it('stores JSON values as JSON and anything else as a string, bumping updated_at', async () => {
    const before = (await row()).updated_at;
    expect(await users('set-claim', 'carol', 'department', 'Sales')).toEqual({ code: 0, stdout: 'carol: department set\n', stderr: '' });
    expect((await users('set-claim', 'carol', 'employee_number', '42')).code).toBe(0);
    expect((await users('set-claim', 'carol', 'badge', '{"floor":3,"zones":["a","b"]}')).code).toBe(0);
    expect((await users('set-claim', 'carol', 'nickname_text', '"42"')).code).toBe(0);
    const after = await row();
    expect(after.claims).toEqual({ department: 'Sales', employee_number: 42, badge: { floor: 3, zones: ['a', 'b'] }, nickname_text: '42' });
    expect(after.updated_at.getTime()).toBeGreaterThan(before.getTime());
  });

  it('removes a claim, and says when there was none', async () => {
    expect(await users('unset-claim', 'carol', 'nickname_text')).toEqual({ code: 0, stdout: 'carol: nickname_text removed\n', stderr: '' });
    expect((await users('unset-claim', 'carol', 'nickname_text')).stdout).toBe('carol had no claim nickname_text\n');
    expect((await row()).claims).not.toHaveProperty('nickname_text');
  });

  it('refuses protocol claims and column claims by name', async () => {
    for (const name of ['sub', 'aud', 'iss', 'exp', 'nonce', 'client_id', 'scope', 'cnf']) {
      expectOneLineError(await users('set-claim', 'carol', name, 'x'), /invalid claim name: ".*" is a protocol claim/);
    }
    expectOneLineError(await users('set-claim', 'carol', 'email', 'x@example.com'), /standard claim, released by the built-in scope "email"/);
    expectOneLineError(await users('set-claim', 'carol', '1st', 'x'), /starts with a letter/);
    expectOneLineError(await users('set-claim', 'carol', 'a b', 'x'), /starts with a letter/);
  });

  it('refuses an oversize value, a null, and roles that are not an array of strings', async () => {
    expectOneLineError(await users('set-claim', 'carol', 'blob', 'x'.repeat(5000)), /at most 4096 bytes/);
    expectOneLineError(await users('set-claim', 'carol', 'blob', 'null'), /must not be null/);
    expectOneLineError(await users('set-claim', 'carol', 'roles', '"admin"'), /"roles" must be an array/);
    expectOneLineError(await users('set-claim', 'carol', 'roles', '[1,2]'), /"roles" must be an array/);
    expectOneLineError(await users('set-claim', 'carol', 'roles', '["a","a"]'), /roles must not repeat/);
    expectOneLineError(await users('set-claim', 'carol', 'blob', '"a\\u0000b"'), /NUL characters/);
    expectOneLineError(await users('set-claim', 'carol', 'blob', '"\\ud800"'), /unpaired surrogates/);
    expect((await row()).claims).not.toHaveProperty('blob');
  });

  it('refuses claims that together outgrow the limit, leaving the row as it was', async () => {
    const big = JSON.stringify('y'.repeat(4000));
    for (const n of [1, 2, 3, 4]) expect((await users('set-claim', 'carol', `big${n}`, big)).code).toBe(0);
    const before = await row();
    expectOneLineError(await users('set-claim', 'carol', 'big5', big), /would exceed 16384 bytes/);
    expect(await row()).toEqual(before);
    for (const n of [1, 2, 3, 4]) expect((await users('unset-claim', 'carol', `big${n}`)).code).toBe(0);
  });

  it('refuses an unknown user with exit 1', async () => {
    expectOneLineError(await users('set-claim', 'nobody', 'department', 'x'), /no user named "nobody"/);
    expectOneLineError(await users('unset-claim', 'nobody', 'department'), /no user named "nobody"/);
    expectOneLineError(await users('roles', 'add', 'nobody', 'admin'), /no user named "nobody"/);
    expectOneLineError(await users('roles', 'remove', 'nobody', 'admin'), /no user named "nobody"/);
    expectOneLineError(await users('show', 'nobody'), /no user named "nobody"/);
  });
});

describe('gatehouse users roles', () => {
  it('adds roles once each, after those held, and removes them (the claim goes with the last)', async () => {
    expect(await users('roles', 'add', 'carol', 'reader', 'admin')).toEqual({ code: 0, stdout: 'carol roles: reader admin\n', stderr: '' });
    expect((await users('roles', 'add', 'carol', 'admin', 'editor')).stdout).toBe('carol roles: reader admin editor\n');
    expect((await row()).claims.roles).toEqual(['reader', 'admin', 'editor']);
    expect((await users('roles', 'remove', 'carol', 'admin', 'ghost')).stdout).toBe('carol roles: reader editor\n');
    expect((await users('roles', 'remove', 'carol', 'reader', 'editor')).stdout).toBe('carol roles: (none)\n');
    expect((await row()).claims).not.toHaveProperty('roles');
  });

  it('refuses an empty role or one with spaces', async () => {
    expectOneLineError(await users('roles', 'add', 'carol', ''), /invalid role/);
    expectOneLineError(await users('roles', 'add', 'carol', 'two words'), /invalid role/);
  });

  it('keeps both of two role changes made at once', async () => {
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((role) => users('roles', 'add', 'carol', role)));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(new Set((await row()).claims.roles as string[])).toEqual(new Set(['a', 'b', 'c', 'd']));
    expect((await users('roles', 'remove', 'carol', 'a', 'b', 'c', 'd')).code).toBe(0);
  });
});

describe('gatehouse users show', () => {
  it('prints the claims and account state as JSON, never the password hash', async () => {
    await users('roles', 'add', 'carol', 'admin');
    const result = await users('show', 'carol');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('argon2');
    expect(result.stdout).not.toContain('password');
    const shown = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({
      username: 'carol',
      email: 'carol@example.com',
      name: 'Carol',
      disabled: false,
      claims: { department: 'Sales', employee_number: 42, roles: ['admin'] },
    });
    expect(shown.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof shown.created_at).toBe('string');
  });

  it('audits each change with the claim name, never the value', async () => {
    const { rows } = await cli.db.query<{ event: string; details: Record<string, unknown> }>(
      "SELECT event, details FROM audit_events WHERE event = 'user.claims_changed' ORDER BY id",
    );
    expect(rows[0]?.details).toMatchObject({ actor: 'cli', claim: 'department', change: 'set' });
    expect(rows.some((r) => r.details.change === 'roles_added' && JSON.stringify(r.details.roles) === '["reader","admin"]')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('Sales');
  });
});
