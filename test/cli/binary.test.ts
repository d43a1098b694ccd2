import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDb, defaultBackend, type TestDb } from '../support/test_db.js';
import { testConfig, SECRETS } from '../support/fixtures.js';
import { discover, signIn } from '../support/relying_party.js';
import { REPO_ROOT, type CliResult } from './cli_harness.js';
import { eventually, GiveUp } from '../support/eventually.js';

// The `gatehouse` binary as an operator runs it: `node bin/gatehouse.js …` in its own process,
// on the compiled dist/, alone on the database and beside a running embedded-database server.

const BIN = path.join(REPO_ROOT, 'bin/gatehouse.js');
const PASSWORD = 'correct horse battery staple';

// Nothing from the test runner's environment (DATABASE_URL…) leaks into the processes.
const childEnv = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? REPO_ROOT, ...extra });

function gatehouse(args: string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const readyz = (issuer: string) =>
  fetch(`${issuer}/readyz`).then(
    (r) => r.status,
    () => 0,
  );

const testDbs: TestDb[] = [];

afterAll(async () => {
  for (const testDb of testDbs) await testDb.drop();
});

describe('node bin/gatehouse.js', () => {
  it('adds and lists users on a database it opens itself; a mistake is one line on stderr', { timeout: 120_000 }, async () => {
    const backend = defaultBackend();
    const testDb = await createTestDb(backend, { open: false });
    testDbs.push(testDb);
    const env: Record<string, string> = backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl } : { DATA_DIR: testDb.dataDir };

    const added = await gatehouse(['users', 'add', 'dave', '--email', 'dave@example.com', '--name', 'Dave Bowman', '--password-stdin'], env, `${PASSWORD}\n`);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^[0-9a-f-]{36}\n$/);

    const listed = await gatehouse(['users', 'list'], env);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(listed.stdout).toMatch(new RegExp(`^dave\\s+dave@example\\.com\\s+Dave Bowman\\s+no\\s+${added.stdout.trim()}\\s`, 'm'));
    expect(added.stdout + added.stderr + listed.stdout).not.toContain(PASSWORD);

    const unknown = await gatehouse(['frobnicate'], env);
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: "gatehouse: unknown command 'frobnicate'\n" });
  });

  describe('beside a running Gatehouse on the same embedded DATA_DIR', () => {
    let server: ChildProcess | undefined;
    let serverOutput = '';
    afterAll(async () => {
      if (server && server.exitCode === null) {
        const exited = once(server, 'exit');
        server.kill('SIGTERM');
        await exited;
      }
    });

    it("adds a user through the server's database; the server stays ready and signs the user in", { timeout: 180_000 }, async () => {
      const testDb = await createTestDb('embedded', { open: false });
      testDbs.push(testDb);
      const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
      await writeFile(configFile, JSON.stringify(testConfig()));
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      const env = { DATA_DIR: testDb.dataDir };

      server = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/main.js')], {
        env: childEnv({ ...env, PORT: String(port), ISSUER: issuer, CONFIG_FILE: configFile, LOG_LEVEL: 'warn' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      server.stdout!.on('data', (chunk) => (serverOutput += String(chunk)));
      server.stderr!.on('data', (chunk) => (serverOutput += String(chunk)));
      const started = server;
      await eventually(
        async () => {
          if (started.exitCode !== null) throw new GiveUp(`the server exited:\n${serverOutput}`);
          return (await readyz(issuer)) === 200;
        },
        { what: `the server to become ready (output so far:\n${serverOutput})`, timeoutMs: 120_000, intervalMs: 100 },
      );

      const added = await gatehouse(['users', 'add', 'erin', '--email', 'erin@example.com', '--name', 'Erin', '--password-stdin'], env, `${PASSWORD}\n`);
      expect(added).toMatchObject({ code: 0, stderr: '' });
      const sub = added.stdout.trim();
      const listed = await gatehouse(['users', 'list'], env);
      expect(listed.stdout).toContain(sub);

      expect(await readyz(issuer)).toBe(200);
      // The running server sees the user and the password the CLI hashed.
      const config = await discover(issuer, 'web', SECRETS.web);
      const { tokens } = await signIn(config, { credentials: { login: 'erin', password: PASSWORD }, consent: 'allow' });
      expect(tokens.claims()?.sub).toBe(sub);

      // A clean stop, then the CLI opens the database itself: the user is there.
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      const [exitCode] = (await exited) as [number | null];
      expect(exitCode).toBe(0);
      const after = await gatehouse(['users', 'list'], env);
      expect(after).toMatchObject({ code: 0, stderr: '' });
      expect(after.stdout).toMatch(new RegExp(`^erin\\s+erin@example\\.com\\s+Erin\\s+no\\s+${sub}\\s`, 'm'));
      expect(serverOutput).not.toMatch(/"level":(50|60)/);
    });
  });
});
