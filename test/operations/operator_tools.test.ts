import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { createLogger } from '../../src/core/log.js';
import { createTestDb, defaultBackend } from '../support/test_db.js';
import { testConfig } from '../support/fixtures.js';
import { tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { freePort, processExists, REPO_ROOT, spawnGatehouse, type LogLine, type SpawnedGatehouse } from '../support/spawn_gatehouse.js';
import { expectOneLineError, runCli } from '../cli/cli_harness.js';

// Issue #18, part 6, on `node dist/main.js`: logs a person can read at a terminal (JSON when
// piped, LOG_FORMAT decides), the pid file, and `gatehouse config reload` signalling the server
// it names.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A fresh database the server opens itself (embedded or Postgres, as the run says), a config file beside it. */
async function prepare(extra: Record<string, string> = {}) {
  const backend = defaultBackend();
  const testDb = await createTestDb(backend, { open: false });
  cleanups.push(() => testDb.drop());
  const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
  await writeFile(configFile, JSON.stringify(testConfig()));
  const env: Record<string, string> = {
    CONFIG_FILE: configFile,
    ...(backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl, DATA_DIR: testDb.dataDir } : { DATA_DIR: testDb.dataDir }),
    ...extra,
  };
  return { env, configFile, dataDir: testDb.dataDir };
}

async function started(env: Record<string, string>): Promise<SpawnedGatehouse> {
  const server = await spawnGatehouse({ env });
  cleanups.push(() => server.kill());
  return server;
}

const event = (name: string) => (line: LogLine) => line.event === name;
const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

/** `node dist/main.js` with its stdout a terminal (util-linux `script` gives it a pseudo-terminal). */
async function atTerminal(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child = spawn('script', ['-qfec', `${process.execPath} dist/main.js`, '/dev/null'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? REPO_ROOT, PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, TERM: 'xterm', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise((resolve) => child.once('close', resolve));
  try {
    await eventually(() => /listening on/.test(output) && /pid (\d+)/.test(output), { what: `the server to listen (output: ${output})`, timeoutMs: 60_000 });
  } finally {
    // Through the terminal, `script` is not the server: stop the server by the pid it logged.
    const pid = Number(/pid (\d+)/.exec(output)?.[1]);
    if (pid) process.kill(pid, 'SIGTERM');
    else child.kill('SIGKILL');
    await exited;
  }
  return output;
}

describe('log format', () => {
  it('is pretty when stdout is a terminal: no JSON lines, the message in words', { timeout: 90_000 }, async () => {
    const { env } = await prepare();
    const output = await atTerminal(env);
    const lines = output.split(/\r?\n/).filter((l) => l.trim());
    expect(lines.some((l) => /INFO.*Gatehouse listening on http:\/\/127\.0\.0\.1/.test(l))).toBe(true);
    expect(lines.filter(isJson)).toEqual([]);
  });

  it('is JSON at a terminal too with LOG_FORMAT=json', { timeout: 90_000 }, async () => {
    const { env } = await prepare({ LOG_FORMAT: 'json' });
    const output = await atTerminal(env);
    const json = output
      .split(/\r?\n/)
      .filter(isJson)
      .map((l) => JSON.parse(l) as LogLine);
    expect(json.find((l) => l.event === 'listening')).toMatchObject({ level: 30, service: 'gatehouse' });
  });

  it('is JSON when piped, and pretty when piped with LOG_FORMAT=pretty', { timeout: 90_000 }, async () => {
    const piped = await started((await prepare()).env);
    await piped.waitForLogs(event('listening'));
    expect(piped.output().split('\n').filter(Boolean).every(isJson)).toBe(true);

    const pretty = await started((await prepare({ LOG_FORMAT: 'pretty' })).env);
    await eventually(() => pretty.output().includes('Gatehouse listening on'), { what: 'the listening line' });
    // (pretty lines of a list may parse as JSON strings; none is a log object)
    expect(pretty.logs().filter((l) => typeof l === 'object' && !Array.isArray(l))).toEqual([]);
    expect(pretty.output()).toMatch(/INFO.*Gatehouse listening on/);
  });

  it('redacts pretty lines as it does JSON ones', () => {
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    const log = createLogger('info', sink, 'pretty');
    log.info(
      { client_secret: 'pretty-secret-1', req: { headers: { authorization: 'Basic pretty-secret-2' } }, body: { password: 'pretty-secret-3' } },
      'hello',
    );
    expect(text).toContain('hello');
    expect(text).toContain('[redacted]');
    expect(text).not.toMatch(/pretty-secret/);
    expect(isJson(text.trim())).toBe(false);
  });

  it('refuses a LOG_FORMAT it does not know, in our words', async () => {
    const result = await runCli(['clients', 'list'], { env: { LOG_FORMAT: 'xml' } });
    expectOneLineError(result, /LOG_FORMAT: must be one of "json", "pretty"/);
  });
});

describe('a refused start', () => {
  it("lists every problem of the config file at once, oidc-provider's too, and exits 1", { timeout: 60_000 }, async () => {
    const { env, configFile } = await prepare();
    const base = testConfig();
    await writeFile(
      configFile,
      JSON.stringify({
        ...base,
        clients: [
          ...base.clients,
          {
            client_id: 'typo',
            client_secret: 'typo-secret-0123456789abcdef0123456789',
            redirect_uri: ['https://typo.example.com/cb'],
            redirect_uris: ['https://typo.example.com/cb'],
          },
          { client_id: 'app', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://app.example.com/cb'] },
        ],
      }),
    );
    const server = await spawnGatehouse({ env, waitReady: false });
    cleanups.push(() => server.kill());
    expect(await server.exited).toEqual({ code: 1, signal: null });
    const n = base.clients.length;
    expect(server.output()).toContain(`clients[${n}].redirect_uri: unknown field; did you mean \`redirect_uris\`?`);
    expect(server.output()).toContain(`clients[${n + 1}].redirect_uris[0]: a native app may use http only on a loopback address`);
  });
});

describe('the pid file and gatehouse config reload', () => {
  it('the server writes its pid where it says; config reload checks the file and signals that pid; a bad file is not sent', { timeout: 120_000 }, async () => {
    const { env, configFile, dataDir } = await prepare();
    const server = await started(env);
    const [listening] = await server.waitForLogs(event('listening'));
    const pidFile = path.join(dataDir, 'gatehouse.pid');
    expect(listening).toMatchObject({ pid: server.child.pid, pid_file: pidFile });
    expect(await readFile(pidFile, 'utf8')).toBe(`${String(server.child.pid)}\n`);

    const batch = { clientId: 'batch', secret: 'batch-secret-0123456789abcdef0123456789' };
    const cc = () => tokenRequest(server.issuer, batch, { grant_type: 'client_credentials', scope: 'things:read' });
    expect((await cc()).body.error).toBe('invalid_client');

    const base = testConfig();
    const v2 = gatehouseConfigSchema.parse({
      ...base,
      clients: [...base.clients, { client_id: 'batch', client_secret: batch.secret, grant_types: ['client_credentials'], scope: 'things:read' }],
    });
    await writeFile(configFile, JSON.stringify(v2));
    const reload = await runCli(['config', 'reload'], { env });
    expect(reload).toEqual({
      code: 0,
      stdout: `asked the server (pid ${String(server.child.pid)}) to reload ${configFile}: ${v2.clients.length} clients, ${v2.apis.length} APIs; it logs config.reloaded when done (or config.reload_failed and keeps the previous config)\n`,
      stderr: '',
    });
    await server.waitForLogs(event('config.reloaded'), 1, 'the reload');
    expect((await cc()).status).toBe(200);

    // A file with a problem: printed, and the server left alone (it would refuse it anyway).
    await writeFile(configFile, JSON.stringify({ ...v2, clients: [{ ...v2.clients[0], redirect_uris: ['https://web.example.com/cb '] }] }));
    const refused = await runCli(['config', 'reload'], { env });
    expectOneLineError(refused, /: 1 problem; the server was not asked to reload \(it keeps serving its current config\)$/);
    expect(refused.stdout).toBe('clients[0].redirect_uris[0]: has a space or line break at the start or end (the URI would never match)\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.count(event('config.reload_failed'))).toBe(0);
    expect(server.count(event('config.reloaded'))).toBe(1);
    expect((await cc()).status).toBe(200);

    // Stopped: the pid file goes with it, and reload says no server runs.
    await writeFile(configFile, JSON.stringify(v2));
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    await expect(readFile(pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
    expectOneLineError(await runCli(['config', 'reload'], { env }), new RegExp(`^gatehouse: no running server: no pid file at ${pidFile} `));
  });

  it('PID_FILE puts the pid file elsewhere; a stale one (its process gone) is named as stale, not signalled', { timeout: 90_000 }, async () => {
    const { env, dataDir } = await prepare();
    const pidFile = path.join(dataDir, 'run', 'gatehouse-test.pid');
    const server = await started({ ...env, PID_FILE: pidFile });
    const [listening] = await server.waitForLogs(event('listening'));
    expect(listening).toMatchObject({ pid_file: pidFile });
    expect(await readFile(pidFile, 'utf8')).toBe(`${String(server.child.pid)}\n`);
    await server.kill(); // SIGKILL: no chance to remove the file

    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    expect(processExists(dead)).toBe(false);
    await writeFile(pidFile, `${dead}\n`);
    expectOneLineError(
      await runCli(['config', 'reload'], { env: { ...env, PID_FILE: pidFile } }),
      new RegExp(`^gatehouse: no running server: ${pidFile} names process ${dead}, which is not running \\(stale pid file; delete it\\)$`),
    );
    await writeFile(pidFile, 'not a pid\n');
    expectOneLineError(await runCli(['config', 'reload'], { env: { ...env, PID_FILE: pidFile } }), /does not hold a process id/);
  });

  it('a pid file naming a process that is not Gatehouse is not signalled', { timeout: 30_000 }, async () => {
    const { env, dataDir } = await prepare();
    const sleeper = spawn('sleep', ['30']);
    cleanups.push(async () => void sleeper.kill('SIGKILL'));
    const pidFile = path.join(dataDir, 'other.pid');
    await writeFile(pidFile, `${String(sleeper.pid)}\n`);
    expectOneLineError(await runCli(['config', 'reload'], { env: { ...env, PID_FILE: pidFile } }), /which is not Gatehouse \(stale pid file; delete it\)$/);
    expect(sleeper.exitCode).toBeNull();
    expect(processExists(sleeper.pid!)).toBe(true);
  });
});
