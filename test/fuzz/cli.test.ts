import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/program.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { verifyPassword } from '../../src/accounts/passwords.js';
import { ALICE } from '../support/fixtures.js';
import { createCliDatabase, type CliDatabase } from '../cli/cli_harness.js';
import { fuzzOptions, fuzzTimeout, shortText, hostileText } from './hostile_input.js';

// The `gatehouse` CLI under hostile input: random command lines (real commands and options in
// any order, junk, option values of any kind) and random stdin (any bytes, too long, several
// lines). Each run exits 0, or 1 with exactly one `gatehouse: …` line on stderr; it never
// throws, prints a stack trace or hangs. The user that existed before is unchanged afterwards.

const RUNS = 60;
const DEADLINE_MS = 15_000;
let database: CliDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  database = await createCliDatabase();
  // A config file that does not exist, so `config check` without a file never reads the checkout's.
  env = { ...database.env, CONFIG_FILE: path.join(os.tmpdir(), 'gatehouse-fuzz-no-such-config.json') };
  await createUsersRepo(database.db).create(ALICE);
});
afterAll(() => database?.close());

// Nothing the fuzzing types may name the user whose survival is checked afterwards.
const WITNESS_NAMES = new Set([ALICE.username, ALICE.email].map((n) => n.toLowerCase()));
const notWitness = (token: string) => !WITNESS_NAMES.has(token.trim().toLowerCase());

// Real command lines (so the fuzzing reaches each command's own checks and the database), and
// near misses.
const COMMAND_LINES = [
  ['migrate'],
  ['users', 'add'],
  ['users', 'list'],
  ['users', 'disable'],
  ['users', 'enable'],
  ['users', 'set-password'],
  ['users', 'unlock'],
  ['users', 'delete'],
  ['users', 'show'],
  ['users', 'set-claim'],
  ['users', 'unset-claim'],
  ['users', 'roles', 'add'],
  ['users', 'roles', 'remove'],
  ['keys', 'list'],
  ['keys', 'rotate'],
  ['keys', 'revoke'],
  ['config', 'check'],
  ['sessions', 'list'],
  ['sessions', 'revoke'],
];
const COMMANDS = [...new Set(COMMAND_LINES.map(([c]) => c!)), 'help', 'frobnicate', 'audit'];
const SUBCOMMANDS = [...new Set(COMMAND_LINES.flatMap(([, s]) => (s ? [s] : []))), 'help', 'lst'];
const OPTIONS = [
  '--email',
  '--name',
  '--given-name',
  '--family-name',
  '--email-verified',
  '--password-stdin',
  '--propagation',
  '--help',
  '-h',
  '--version',
  '-V',
  '--',
  '-',
  '--email=',
  '--propagation=-1',
  '--propagation=1e99',
  '--no-such-option',
  '--password=hunter2',
  '-x',
  '---',
  '--yes',
];

const token: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 2, arbitrary: fc.constantFrom(...OPTIONS) },
    { weight: 3, arbitrary: hostileText },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'bob',
        'carol@example.test',
        'Bob Example',
        '0',
        '-5',
        '86400',
        '99999999999999999999',
        'NaN',
        '.',
        '/',
        '/nonexistent/file.yaml',
      ),
    },
  )
  .filter(notWitness);

const value = fc.oneof(hostileText, fc.constantFrom('bob', 'carol', 'dave.x', 'eve@example.test', '0', '-1', '60', '1e3')).filter(notWitness);

/** Well-formed command lines whose arguments and option values are hostile. */
const wellFormed: fc.Arbitrary<string[]> = fc.oneof(
  fc
    .record({ username: value, email: fc.option(value, { nil: undefined }), name: fc.option(value, { nil: undefined }), verified: fc.boolean() })
    .map(({ username, email, name, verified }) => [
      'users',
      'add',
      username,
      '--password-stdin',
      ...(email === undefined ? [] : ['--email', email]),
      ...(name === undefined ? [] : ['--name', name]),
      ...(verified ? ['--email-verified'] : []),
    ]),
  value.map((username) => ['users', 'set-password', username, '--password-stdin']),
  fc.tuple(fc.constantFrom('disable', 'enable', 'unlock', 'delete'), value).map(([verb, username]) => ['users', verb, username]),
  fc.tuple(fc.constantFrom('list', 'revoke'), value).map(([verb, who]) => ['sessions', verb, who]),
  value.map((seconds) => ['keys', 'rotate', '--propagation', seconds]),
  fc.tuple(value, fc.boolean()).map(([kid, yes]) => ['keys', 'revoke', kid, ...(yes ? ['--yes'] : [])]),
  value.map((file) => ['config', 'check', file]),
);

const argv: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 4, arbitrary: wellFormed },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...COMMAND_LINES), fc.array(token, { maxLength: 6 })).map(([line, rest]) => [...line, ...rest]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...COMMANDS), fc.constantFrom(...SUBCOMMANDS), fc.array(token, { maxLength: 6 }))
      .map(([c, s, rest]) => [c, s, ...rest]),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...COMMANDS), fc.array(token, { maxLength: 4 })).map(([c, rest]) => [c, ...rest]) },
  { weight: 1, arbitrary: fc.array(fc.oneof(token, fc.constantFrom(...COMMANDS, ...SUBCOMMANDS)), { maxLength: 6 }) },
);

const stdin: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.constantFrom('a long passphrase\n', 'a long passphrase\r\n', 'two\nlines\n', 'short\n', `${'p'.repeat(5000)}\n`).map((s) => Buffer.from(s)),
  shortText.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function gatehouse(args: string[], input: Buffer): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`gatehouse ${JSON.stringify(args)} did not finish within ${DEADLINE_MS} ms (a hang)`)), DEADLINE_MS);
  });
  try {
    const code = await Promise.race([
      run(['node', 'gatehouse', ...args], {
        stdin: Readable.from(input.length ? [input] : []),
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
        env: { ...env },
      }),
      deadline,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

const STACK_TRACE = /\n\s+at \S|\bat (?:async )?[\w$.<>]+ \(|node_modules|file:\/\//;

describe('the CLI under hostile input', () => {
  it(
    'exits 0, or 1 with one line on stderr, for any command line and stdin',
    async () => {
      await fc.assert(
        fc.asyncProperty(argv, stdin, async (args, input) => {
          const { code, stdout, stderr } = await gatehouse(args, input);
          const what = `gatehouse ${JSON.stringify(args)} (stdin ${JSON.stringify(input.toString('latin1').slice(0, 60))})`;
          expect([0, 1], `${what} exit code`).toContain(code);
          expect(STACK_TRACE.test(stdout + stderr), `${what} printed a stack trace:\n${stderr}`).toBe(false);
          if (code === 1) {
            const lines = stderr.split('\n').filter(Boolean);
            expect(lines, `${what} stderr`).toHaveLength(1);
            expect(lines[0], `${what} stderr`).toMatch(/^gatehouse: \S/);
          }
        }),
        fuzzOptions(RUNS),
      );
    },
    fuzzTimeout(RUNS, 300),
  );
});

describe('after the fuzzing', () => {
  it('the user created before it is unchanged and still signs in with its password', async () => {
    const users = createUsersRepo(database.db);
    const alice = await users.findByLogin(ALICE.username);
    expect(alice).toMatchObject({ username: ALICE.username, email: ALICE.email, name: ALICE.name, disabled: false });
    expect(await verifyPassword(alice!.password_hash, ALICE.password)).toBe(true);
  });
});
