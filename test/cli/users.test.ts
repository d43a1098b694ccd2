import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, expectOneLineError, runCli, type CliDatabase, type CliResult } from './cli_harness.js';

// `gatehouse users …` against a fresh database: what it prints, and the rows it leaves.

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a whole new passphrase 42';

let cli: CliDatabase;
beforeAll(async () => {
  cli = await createCliDatabase();
});
afterAll(async () => {
  await cli?.close();
});

interface UserRow {
  sub: string;
  username: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  password_hash: string | null;
  disabled: boolean;
  updated_at: Date;
  password_changed_at: Date | null;
}

async function usersNamed(username: string): Promise<UserRow[]> {
  const { rows } = await cli.db.query<UserRow>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
  return rows;
}

async function userNamed(username: string): Promise<UserRow> {
  const [row] = await usersNamed(username);
  if (!row) throw new Error(`no row for ${username}`);
  return row;
}

const users = (args: string[], stdin?: string) => runCli(['users', ...args], { env: cli.env, stdin });
const addUser = (username: string, password: string, ...options: string[]) => users(['add', username, ...options, '--password-stdin'], password);

function expectNothingSecret(result: CliResult, ...secrets: string[]) {
  const output = result.stdout + result.stderr;
  for (const secret of secrets) expect(output).not.toContain(secret);
  expect(output).not.toContain('$argon2');
}

/** The PHC string's algorithm and parameters (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
function argon2Params(hash: string | null): { type: string; m: string; t: string; p: string } {
  const [, type, , params] = (hash ?? '').split('$');
  const { m, t, p } = Object.fromEntries((params ?? '').split(',').map((kv) => kv.split('=')));
  return { type: type!, m: m!, t: t!, p: p! };
}

/** `users list` rows as objects keyed by the header (columns are separated by 2+ spaces). */
function parseTable(stdout: string): Record<string, string | undefined>[] {
  const [header, ...lines] = stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
  return lines.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i]])));
}

describe('gatehouse users add', () => {
  it('says so when there are no users yet', async () => {
    expect(await users(['list'])).toEqual({ code: 0, stdout: 'no users\n', stderr: '' });
  });

  it('creates the user with an argon2id hash of the password read from stdin, and prints only the sub', async () => {
    const result = await users(
      [
        'add',
        'alice',
        '--email',
        'alice@example.com',
        '--name',
        'Alice Liddell',
        '--given-name',
        'Alice',
        '--family-name',
        'Liddell',
        '--email-verified',
        '--password-stdin',
      ],
      `${PASSWORD}\n`,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/);
    expectNothingSecret(result, PASSWORD);

    const row = await userNamed('alice');
    expect(row).toMatchObject({
      sub: result.stdout.trim(),
      username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
      disabled: false,
    });
    // OWASP's argon2id parameters, visible in the PHC string.
    expect(argon2Params(row.password_hash)).toEqual({ type: 'argon2id', m: '19456', t: '2', p: '1' });
    // The trailing newline of `echo "$PASSWORD" |` is not part of the password.
    expect(await argon2.verify(row.password_hash!, PASSWORD)).toBe(true);
    expect(await argon2.verify(row.password_hash!, `${PASSWORD}\n`)).toBe(false);
  });

  it('strips a trailing CR LF, and nothing else (spaces are part of a password)', async () => {
    expect((await addUser('crlf', `  ${PASSWORD}  \r\n`)).code).toBe(0);
    const { password_hash } = await userNamed('crlf');
    expect(await argon2.verify(password_hash!, `  ${PASSWORD}  `)).toBe(true);
    expect(await argon2.verify(password_hash!, PASSWORD)).toBe(false);
  });

  it('refuses a password with a line break inside (no login form could ever submit it)', async () => {
    const result = await addUser('carol', `${PASSWORD}\nsecond line\n`);
    expectOneLineError(result, /the password on stdin must be a single line/);
    expectNothingSecret(result, PASSWORD, 'second line');
    expect(await usersNamed('carol')).toHaveLength(0);
  });

  it('leaves the optional fields empty and the email unverified', async () => {
    expect((await addUser('minimal', PASSWORD)).code).toBe(0);
    expect(await userNamed('minimal')).toMatchObject({ email: null, email_verified: false, name: null, given_name: null, family_name: null });
  });

  it('refuses a username that differs from an existing one only in case', async () => {
    const result = await addUser('ALICE', PASSWORD, '--email', 'someone-else@example.com');
    expectOneLineError(result, /a user with that username already exists/);
    expect(await usersNamed('alice')).toHaveLength(1);
  });

  it('refuses an email address already in use, whatever its case', async () => {
    const result = await addUser('bob', PASSWORD, '--email', 'Alice@Example.COM');
    expectOneLineError(result, /a user with that email already exists/);
    expect(await usersNamed('bob')).toHaveLength(0);
  });

  it('refuses a password shorter than 8 characters, without echoing it', async () => {
    const result = await addUser('carol', 'seven7!\n');
    expectOneLineError(result, /password: must be at least 8 characters/);
    expectNothingSecret(result, 'seven7!');
    expect(await usersNamed('carol')).toHaveLength(0);
  });

  it('refuses one of the most common passwords, whatever its case, without echoing it', async () => {
    const result = await addUser('carol', 'Iloveyou\n');
    expectOneLineError(result, /^gatehouse: invalid user: password: is one of the most common passwords; choose another$/);
    expectNothingSecret(result, 'Iloveyou', 'iloveyou');
    expect(await usersNamed('carol')).toHaveLength(0);
  });

  it('refuses the username or the email address as the password, even with digits added', async () => {
    expectOneLineError(await addUser('carroll1832', 'carroll1832\n'), /invalid user: password: must not be the username, the email address/);
    expectOneLineError(
      await addUser('carol', 'carol.smith@example.com\n', '--email', 'carol.smith@example.com'),
      /invalid user: password: must not be the username/,
    );
    expectOneLineError(await addUser('carol', 'carol.smith2024\n', '--email', 'carol.smith@example.com'), /invalid user: password: must not be the username/);
    expect(await usersNamed('carol')).toHaveLength(0);
    expect(await usersNamed('carroll1832')).toHaveLength(0);
  });

  it('counts characters, not bytes: 8 emoji are a long enough password', async () => {
    expect((await addUser('emoji', '🔑🚪🏠🌙🍵🐇🎩🃏\n')).code).toBe(0);
    expect(await argon2.verify((await userNamed('emoji')).password_hash!, '🔑🚪🏠🌙🍵🐇🎩🃏')).toBe(true);
    expectOneLineError(await addUser('emoji2', '🔑🚪🏠🌙🍵🐇🎩\n'), /password: must be at least 8 characters/);
  });

  it('refuses an empty stdin as a password', async () => {
    expectOneLineError(await addUser('carol', ''), /password: must be at least 8 characters/);
    expect(await usersNamed('carol')).toHaveLength(0);
  });

  it('lists every invalid field on its one error line', async () => {
    const result = await addUser('carol smith', PASSWORD, '--email', 'carol-at-example.com');
    expectOneLineError(result, /username: may contain letters.*; email: must be an email address/);
    expect(await usersNamed('carol smith')).toHaveLength(0);
  });

  it('takes the password from stdin only: --password-stdin is required and a password option is refused unseen', async () => {
    expectOneLineError(await users(['add', 'carol', '--password', 'hunter2hunter2']), /required option '--password-stdin' not specified/);
    const withValue = await users(['add', 'carol', '--password-stdin', '--password=hunter2hunter2'], PASSWORD);
    expectOneLineError(withValue, /unknown option '--password=…'/);
    expectNothingSecret(withValue, 'hunter2hunter2', PASSWORD);
    expect(await usersNamed('carol')).toHaveLength(0);
  });

  it('will not read a password typed at a terminal (it would be echoed)', async () => {
    const result = await runCli(['users', 'add', 'carol', '--password-stdin'], { env: cli.env, tty: true });
    expectOneLineError(result, /--password-stdin reads a pipe, not a terminal/);
    expect(await usersNamed('carol')).toHaveLength(0);
  });
});

describe('gatehouse users list', () => {
  it('shows username, email, name, disabled, sub and created, sorted by username', async () => {
    const result = await users(['list']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')[0]!.split(/\s+/)).toEqual(['username', 'email', 'name', 'disabled', 'sub', 'created']);
    const rows = parseTable(result.stdout);
    expect(rows.map((r) => r.username)).toEqual(['alice', 'crlf', 'emoji', 'minimal']);
    const alice = await userNamed('alice');
    expect(rows[0]).toEqual({
      username: 'alice',
      email: 'alice@example.com',
      name: 'Alice Liddell',
      disabled: 'no',
      sub: alice.sub,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(rows[3]).toMatchObject({ username: 'minimal', email: '-', name: '-' });
    expectNothingSecret(result, PASSWORD);
  });
});

describe('gatehouse users disable / enable', () => {
  it('disable sets the column (username case-insensitively) and list shows it', async () => {
    const result = await users(['disable', 'ALICE']);
    expect(result).toEqual({ code: 0, stdout: 'alice is disabled; 0 sessions ended, 0 grants revoked, 0 back-channel logouts queued\n', stderr: '' });
    expect((await userNamed('alice')).disabled).toBe(true);
    expect(parseTable((await users(['list'])).stdout)[0]).toMatchObject({ username: 'alice', disabled: 'yes' });
  });

  it('enable clears it', async () => {
    expect(await users(['enable', 'alice'])).toEqual({ code: 0, stdout: 'alice is enabled\n', stderr: '' });
    expect((await userNamed('alice')).disabled).toBe(false);
  });
});

describe('gatehouse users set-password', () => {
  it('replaces the hash: the new password verifies, the old one no longer does', async () => {
    const before = await userNamed('alice');
    const result = await users(['set-password', 'alice', '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(result).toEqual({ code: 0, stdout: 'password changed for alice; 0 sessions ended, 0 grants revoked, 0 back-channel logouts queued\n', stderr: '' });
    expectNothingSecret(result, NEW_PASSWORD);

    const after = await userNamed('alice');
    expect(after.password_hash).not.toBe(before.password_hash);
    expect(argon2Params(after.password_hash)).toEqual({ type: 'argon2id', m: '19456', t: '2', p: '1' });
    expect(await argon2.verify(after.password_hash!, NEW_PASSWORD)).toBe(true);
    expect(await argon2.verify(after.password_hash!, PASSWORD)).toBe(false);
    expect(after.password_changed_at!.getTime()).toBeGreaterThanOrEqual(before.password_changed_at!.getTime());
    // The user is told by mail: queued in the outbox for the running server to send.
    const { rows } = await cli.db.query<{ template: string; subject: string }>(
      `SELECT template, subject FROM mail_outbox WHERE sub = $1 ORDER BY id DESC LIMIT 1`,
      [after.sub],
    );
    expect(rows[0]).toEqual({ template: 'security_notice', subject: 'Password changed on your Gatehouse account' });
  });

  it("refuses a common password, or the user's own name, and keeps the old hash", async () => {
    const before = await userNamed('alice');
    const common = await users(['set-password', 'alice', '--password-stdin'], 'Password123\n');
    expectOneLineError(common, /^gatehouse: invalid password: is one of the most common passwords; choose another$/);
    expectNothingSecret(common, 'Password123');
    expectOneLineError(
      await users(['set-password', 'alice', '--password-stdin'], 'Alice@Example.com!\n'),
      /invalid password: must not be the username, the email address/,
    );
    expect((await userNamed('alice')).password_hash).toBe(before.password_hash);
  });

  it('refuses blank, invisible, repeated, sequential and decorated common passwords, saying why (issue #10)', async () => {
    const before = await userNamed('alice');
    const refusals: [string, RegExp][] = [
      [' '.repeat(8), /^gatehouse: invalid password: must contain visible characters, not only spaces or invisible ones$/],
      ['\u200b'.repeat(8), /^gatehouse: invalid password: must contain visible characters, not only spaces or invisible ones$/],
      ['aaaaaaaa', /^gatehouse: invalid password: is too easy to guess: repeated characters like "aaa" are easy to guess$/],
      ['abcdefgh', /^gatehouse: invalid password: is too easy to guess: common character sequences like "abc" are easy to guess$/],
      ['Password1!', /^gatehouse: invalid password: is one of the most common passwords; choose another$/],
      ['!password!', /^gatehouse: invalid password: is one of the most common passwords; choose another$/],
    ];
    for (const [password, message] of refusals) {
      const result = await users(['set-password', 'alice', '--password-stdin'], `${password}\n`);
      expectOneLineError(result, message);
    }
    expect((await userNamed('alice')).password_hash).toBe(before.password_hash);
  });

  it('refuses a short password and keeps the old hash', async () => {
    const before = await userNamed('alice');
    const result = await users(['set-password', 'alice', '--password-stdin'], 'short\n');
    expectOneLineError(result, /invalid password: must be at least 8 characters/);
    expectNothingSecret(result, 'short');
    expect((await userNamed('alice')).password_hash).toBe(before.password_hash);
  });
});

describe('gatehouse users delete', () => {
  it('removes the row and the consents remembered for the user', async () => {
    const { sub } = await userNamed('crlf');
    await cli.db.query(`INSERT INTO consents (sub, client_id, scope) VALUES ($1, 'web', 'openid')`, [sub]);
    const result = await users(['delete', 'CRLF']);
    expect(result).toEqual({ code: 0, stdout: `deleted crlf (${sub}); 0 sessions ended, 0 grants revoked, 0 back-channel logouts queued\n`, stderr: '' });
    expect(await usersNamed('crlf')).toHaveLength(0);
    expect((await cli.db.query('SELECT 1 FROM consents WHERE sub = $1', [sub])).rowCount).toBe(0);
    expect(parseTable((await users(['list'])).stdout).map((r) => r.username)).toEqual(['alice', 'emoji', 'minimal']);
  });
});

describe('an unknown user', () => {
  it.each([[['disable', 'nobody']], [['enable', 'nobody']], [['delete', 'nobody']], [['set-password', 'nobody', '--password-stdin']]])(
    'users %j exits 1 with one line naming the user',
    async (args) => {
      const result = await users(args, PASSWORD);
      expectOneLineError(result, /no user named "nobody"/);
      expect(result.stdout).toBe('');
    },
  );
});
