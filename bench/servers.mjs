import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from './browser.mjs';

// Each server runs as its own child process on 127.0.0.1, so each has its own event loop and
// its resident set size can be read from /proc/<pid>/status.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A process's children (a cluster primary's workers), from /proc. */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function launch(name, args, env, readyPath, expected = /^$/) {
  // BENCH_SERVER_NODE_OPTIONS reaches both servers (and not the load generator), to try runtime
  // settings such as --max-semi-space-size on both sides alike; for Gatehouse it replaces the
  // Dockerfile's NODE_OPTIONS.
  const nodeOptions = process.env.BENCH_SERVER_NODE_OPTIONS;
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // At LOG_LEVEL=warn a healthy server writes nothing under load: every line is worth showing.
  const lines = [];
  const collect = (stream) => (chunk) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      if (expected.test(line)) continue;
      lines.push(line);
      if (lines.length <= 20) process.stderr.write(`[${name} ${stream}] ${line.slice(0, 400)}\n`);
    }
  };
  child.stdout.on('data', collect('out'));
  child.stderr.on('data', collect('err'));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${env.PORT}`;

  return {
    name,
    url,
    pid: child.pid,
    /** the process and its children: a cluster's workers */
    pids: () => [child.pid, ...childrenOf(child.pid)],
    logLines: () => lines.length,
    async ready() {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${lines.slice(-5).join('\n')}`);
        const res = await request(`${url}${readyPath}`).catch(() => undefined);
        if (res?.status === 200) return;
        await sleep(100);
      }
      throw new Error(`${name} did not become ready: ${lines.slice(-5).join('\n')}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Gatehouse as production runs it: `node dist/main.js` with `runtimeEnv` (NODE_OPTIONS and
 * GLIBC_TUNABLES chosen by run.mjs), real Postgres, LOG_LEVEL=warn.
 * `workers` > 1 starts a cluster (WEB_CONCURRENCY); it is ready once every worker answers.
 */
export async function startGatehouse({ databaseUrl, configFile, dataDir, nodeArgs = [], runtimeEnv = {}, workers = 1, name = 'gatehouse' }) {
  const port = await freePort();
  const server = launch(
    name,
    [...nodeArgs, 'dist/main.js'],
    {
      ...runtimeEnv,
      WEB_CONCURRENCY: String(workers),
      NODE_ENV: 'production',
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      DATABASE_URL: databaseUrl,
      CONFIG_FILE: configFile,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      // The bench runs the expiry sweep itself, at a moment it chooses (the million-row phase).
      SWEEP_INTERVAL_SECONDS: '3600',
      // Every simulated user signs in from 127.0.0.1: one address's budget would cap the run.
      REQUEST_RATE_LIMIT_PER_IP: '10000000',
    },
    '/readyz',
  );
  await server.ready();
  if (workers > 1) await allWorkersReady(server, workers);
  return server;
}

/** The primary answers through whichever worker listens first: wait for the rest. */
async function allWorkersReady(server, workers) {
  const deadline = Date.now() + 30_000;
  while (server.pids().length < 1 + workers) {
    if (Date.now() > deadline) throw new Error(`${server.name}: ${workers} workers did not start`);
    await sleep(100);
  }
  // Each worker migrates (a no-op) and loads keys before it listens; the primary hands
  // connections only to listening workers, round-robin. Ask until each has had its turn.
  for (let i = 0; i < 20 * workers; i++) await request(`${server.url}/readyz`).catch(() => undefined);
  await sleep(500);
}

export async function startBaseline({ configFile }) {
  const port = await freePort();
  const server = launch(
    'baseline',
    ['bench/baseline_server.mjs'],
    { NODE_ENV: 'production', PORT: String(port), BENCH_CONFIG: configFile },
    '/.well-known/openid-configuration',
    // The baseline uses the memory adapter on purpose.
    /development-only in-memory adapter/,
  );
  await server.ready();
  return server;
}

/**
 * Peak resident set size per server, sampled from /proc while a scenario runs: of its largest
 * process, i.e. per worker for a cluster (its primary only supervises).
 */
export function rssSampler(servers, intervalMs = 50) {
  const peaks = new Map();
  const read = (pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  const sample = () => {
    for (const s of servers) peaks.set(s.pid, Math.max(peaks.get(s.pid) ?? 0, ...s.pids().map(read)));
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    /** starts a new window; returns a function giving each server's peak in that window */
    window() {
      peaks.clear();
      sample();
      return (server) => {
        sample();
        return peaks.get(server.pid) ?? 0;
      };
    },
    /** the kernel's own lifetime high-water mark (of the largest process) */
    hwm(server) {
      const hwm = (pid) => {
        try {
          return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
        } catch {
          return 0;
        }
      };
      return Math.max(...server.pids().map(hwm));
    },
    /** samples one more server from now on */
    add(server) {
      servers = [...servers, server];
    },
    stop: () => clearInterval(timer),
  };
}
