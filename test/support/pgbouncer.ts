import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acceptsConnections, freePort, REPO_ROOT } from './spawn_gatehouse.js';

// Debian's PgBouncer in front of the test Postgres, running the repository's own
// deploy/pgbouncer.ini (transaction pooling) with only its target, port, authentication and
// paths changed, as in production.

export const PGBOUNCER = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

export interface RunningPgBouncer {
  /** `postgres://…` of the target database through PgBouncer, without Gatehouse's pool_mode parameter */
  url: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

async function testConfig(target: URL, port: number, dir: string): Promise<string> {
  const shipped = await readFile(path.join(REPO_ROOT, 'deploy/pgbouncer.ini'), 'utf8');
  const replacements: [string, string][] = [
    // Every database of the test server: each test file makes its own.
    ['gatehouse = host=postgres port=5432 dbname=gatehouse', `* = host=${target.hostname} port=${target.port || '5432'}`],
    ['listen_addr = 0.0.0.0', 'listen_addr = 127.0.0.1\nunix_socket_dir ='],
    ['listen_port = 6432', `listen_port = ${port}`],
    // The test server trusts local connections; PgBouncer then needs the user only by name.
    ['auth_type = scram-sha-256', 'auth_type = trust'],
    ['/etc/pgbouncer/userlist.txt', path.join(dir, 'userlist.txt')],
    ['/var/log/pgbouncer/pgbouncer.log', path.join(dir, 'pgbouncer.log')],
    ['/var/run/pgbouncer/pgbouncer.pid', path.join(dir, 'pgbouncer.pid')],
  ];
  let config = shipped;
  for (const [from, to] of replacements) {
    if (!config.includes(from)) throw new Error(`deploy/pgbouncer.ini no longer contains "${from}": update test/support/pgbouncer.ts`);
    config = config.replace(from, to);
  }
  return config;
}

/** Starts PgBouncer in front of the server of `targetUrl` (a postgres:// URL whose user it lets through). */
export async function startPgBouncer(targetUrl: string): Promise<RunningPgBouncer> {
  await access(PGBOUNCER).catch(() => {
    throw new Error(`PgBouncer is needed for this test and is missing (${PGBOUNCER}): install the Debian package pgbouncer (or set PGBOUNCER_PATH)`);
  });
  const target = new URL(targetUrl);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-pgbouncer-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'userlist.txt'), `"${decodeURIComponent(target.username || 'postgres')}" ""\n`);
  await writeFile(path.join(dir, 'pgbouncer.ini'), await testConfig(target, port, dir));
  // PgBouncer refuses to run as root: there it switches to the postgres user, who must reach the files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chmod(dir, 0o777);
  const child: ChildProcess = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const log = async () => `${output}${await readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => '')}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGINT');
      await exit;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100 && !exited; i++) {
    if (await acceptsConnections(port)) {
      const url = new URL(targetUrl);
      url.host = `127.0.0.1:${port}`;
      return { url: url.toString(), log, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const failure = await log();
  await stop();
  throw new Error(`PgBouncer did not start:\n${failure}`);
}

/**
 * `databaseUrl` (a test database, maybe through PgBouncer) as a direct connection to the Postgres
 * server: the same database, the server's own address, no pool_mode. For a LISTEN, which a
 * transaction pooler cannot carry (TEST_VIA_PGBOUNCER=1 sets TEST_DIRECT_DATABASE_URL).
 */
export function directDatabaseUrl(databaseUrl: string): string {
  const server = new URL(process.env.TEST_DIRECT_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? databaseUrl);
  const url = new URL(databaseUrl);
  url.host = server.host;
  url.searchParams.delete('pool_mode');
  return url.toString();
}
