import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockPath } from '../../src/db/embedded_lock.js';
import { expectOneLineError, REPO_ROOT, runCli } from './cli_harness.js';

// Whatever goes wrong, `gatehouse` exits 1 with one `gatehouse: …` line on stderr, never a
// stack trace or a usage dump; --help and --version exit 0.

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };
const cli = (...args: string[]) => runCli(args, { env: NO_DATABASE });

describe('usage errors', () => {
  it('no command at all names the commands', async () => {
    const result = await cli();
    expectOneLineError(result, /missing command: gatehouse <migrate\|users\|sessions\|keys\|config\|clients>/);
    expect(result.stdout).toBe('');
  });

  it('a command group without its subcommand names the subcommands', async () => {
    expectOneLineError(
      await cli('users'),
      /missing command: gatehouse users <add\|invite\|list\|disable\|enable\|set-password\|unlock\|delete\|show\|set-claim\|unset-claim\|roles\|mfa>/,
    );
    expectOneLineError(await cli('keys'), /missing command: gatehouse keys <list\|rotate\|revoke>/);
    expectOneLineError(await cli('users', 'roles'), /missing command: gatehouse users roles <add\|remove>/);
    expectOneLineError(await cli('users', 'mfa'), /missing command: gatehouse users mfa <reset>/);
  });

  it('an unknown command', async () => {
    expectOneLineError(await cli('frobnicate'), /^gatehouse: unknown command 'frobnicate'$/);
  });

  it('a misspelled subcommand, with the suggestion on the same line', async () => {
    expectOneLineError(await cli('users', 'lst'), /^gatehouse: unknown command 'lst' \(Did you mean list\?\)$/);
  });

  it('a missing argument', async () => {
    expectOneLineError(await cli('users', 'disable'), /^gatehouse: missing required argument 'username'$/);
  });

  it('too many arguments', async () => {
    expectOneLineError(await cli('users', 'list', 'everyone'), /too many arguments for 'list'/);
  });

  it('an unknown option', async () => {
    expectOneLineError(await cli('keys', 'list', '--all'), /^gatehouse: unknown option '--all'$/);
  });

  it('a missing option value', async () => {
    expectOneLineError(await cli('users', 'add', 'carol', '--password-stdin', '--email'), /option '--email <email>' argument missing/);
  });
});

describe('help and version', () => {
  it('--help prints usage to stdout and exits 0', async () => {
    const result = await cli('--help');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: gatehouse /);
    for (const command of ['migrate', 'users', 'keys', 'config']) expect(result.stdout).toContain(command);
  });

  it('help for a subcommand lists its options', async () => {
    const result = await cli('users', 'add', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: gatehouse users add \[options\] <username>/);
    expect(result.stdout).toContain('--password-stdin');
    expect(result.stdout).toMatch(/printf .*\| gatehouse users add alice .*--password-stdin/);
    expect((await cli('help', 'keys')).stdout).toMatch(/rotate/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await cli('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('environment and database errors', () => {
  it('an invalid environment variable', async () => {
    const result = await runCli(['users', 'list'], { env: { DATABASE_URL: 'mysql://db.example.com/gatehouse', PORT: 'eighty' } });
    expectOneLineError(result, /environment is invalid: .*PORT: .*DATABASE_URL: must be a postgres:\/\/ URL/);
  });

  it('a database that cannot be reached', async () => {
    expectOneLineError(await cli('users', 'list'), /ECONNREFUSED 127\.0\.0\.1:1/);
  });

  it('an embedded database another (non-server) process has open is refused with a clear message', { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-locked-'));
    try {
      // A live process holding the lock without serving the database: the vitest main process
      // stands in for another `gatehouse` command (it never touches this directory).
      await writeFile(lockPath(dataDir), JSON.stringify({ pid: process.ppid, socketDir: null, role: 'cli' }));
      const result = await runCli(['users', 'list'], { env: { DATA_DIR: dataDir } });
      expectOneLineError(result, new RegExp(`the embedded database in ${dataDir} is in use by process ${process.ppid} \\(cli\\); stop it first`));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
