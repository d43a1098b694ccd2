import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, GiveUp } from './eventually.js';

// The real server as an operator runs it: `node dist/main.js` in its own process, for what only
// a process can show (signals, exit codes, node:cluster). In-process servers (start_gatehouse.ts)
// are quicker for everything else.

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Compiles src/ to dist/ as `npm install` does (incremental: quick when nothing changed). Run once
 * per test run by build_dist_setup.ts (vitest globalSetup); test files do not call it.
 */
export async function buildDist(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: REPO_ROOT,
  }).catch((error: unknown) => {
    throw new Error(`the build failed:\n${String((error as { stdout?: string }).stdout)}`);
  });
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (a server the test started). */
export async function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export type LogLine = Record<string, unknown>;

export interface SpawnedGatehouse {
  issuer: string;
  port: number;
  child: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  /** the JSON log lines so far */
  logs(): LogLine[];
  /** how many log lines so far match */
  count(match: (line: LogLine) => boolean): number;
  /** waits until at least `n` log lines match; returns them */
  waitForLogs(match: (line: LogLine) => boolean, n?: number, what?: string): Promise<LogLine[]>;
  /** resolves with the exit code (or signal name) once the process has exited */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if still running (for afterAll) */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  /** DATABASE_URL or DATA_DIR, CONFIG_FILE, WEB_CONCURRENCY… (nothing leaks in from the test's environment) */
  env: Record<string, string>;
  /** wait until /readyz answers 200 (default true) */
  waitReady?: boolean;
  /** listen here (default: a free port); a restarted server keeps its predecessor's issuer */
  port?: number;
}

export async function spawnGatehouse({ env, waitReady = true, port: fixedPort }: SpawnOptions): Promise<SpawnedGatehouse> {
  const port = fixedPort ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? REPO_ROOT, PORT: String(port), ISSUER: issuer, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  const lines: LogLine[] = [];
  child.stdout.on('data', (chunk) => {
    output += String(chunk);
    partial += String(chunk);
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  // 'close' comes after the last output has been read, unlike 'exit'.
  let closed = false;
  child.once('close', () => (closed = true));
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));

  const spawned: SpawnedGatehouse = {
    issuer,
    port,
    child,
    output: () => output,
    logs: () => [...lines],
    count: (match) => lines.filter(match).length,
    async waitForLogs(match, n = 1, what = 'a log line') {
      return eventually(
        () => {
          if (closed && lines.filter(match).length < n) throw new GiveUp(`the server exited (${String(child.exitCode)}):\n${output}`);
          const found = lines.filter(match);
          return found.length >= n && found;
        },
        { what: `${what} (output so far:\n${output.slice(-3000)})`, timeoutMs: 30_000 },
      );
    },
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  if (waitReady) {
    await eventually(
      async () => {
        if (closed) throw new GiveUp(`the server exited (${String(child.exitCode)}):\n${output}`);
        return (
          (await fetch(`${issuer}/readyz`).then(
            (r) => r.status,
            () => 0,
          )) === 200
        );
      },
      { what: `${issuer} to be ready`, timeoutMs: 120_000, intervalMs: 100 },
    ).catch(async (error: unknown) => {
      await spawned.kill();
      throw error;
    });
  }
  return spawned;
}

/** Tries a new TCP connection: 'connected' or the error code (ECONNREFUSED once nothing listens). */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** True while a process with this pid exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
