// `npm run bench`: Gatehouse (real Postgres, production settings) against bare oidc-provider on
// its memory adapter, loaded one after the other with the same requests, in one run.
// `npm run bench:smoke` does the same in a few seconds to prove the bench still works; its
// numbers mean nothing and it asserts nothing.
//
// Options: --smoke, --cpu-prof (profile Gatehouse; the .cpuprofile is written when it stops),
// --only=<scenario,…> (skips sign-ins, the million rows, the cluster and the revocation
// propagation between two instances unless named: signin, million, cluster, propagation),
// runtime settings of Gatehouse: by default Node's default heap settings, like the baseline, with
// the Dockerfile's malloc settings (GLIBC_TUNABLES); --node-defaults without the malloc settings
// too; --dockerfile-runtime with the Dockerfile's NODE_OPTIONS (V8 heap sizes) as well; --no-build. BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
// is where the fresh database is created. BENCHMARKS.md is rewritten only by a complete full run.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    only: { type: 'string' },
    'node-defaults': { type: 'boolean', default: false },
    'dockerfile-runtime': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});

const SETTINGS = args.smoke
  ? {
      connections: 4,
      warmup: 0.2,
      duration: 0.5,
      shortDuration: 0.3,
      clusterWarmup: 0.2,
      clusterDuration: 0.5,
      signInUsers: 4,
      signInDuration: 1,
      rows: 10_000,
      tokens: 4,
      argon2Samples: 5,
    }
  : {
      connections: 16,
      warmup: 2,
      duration: 10,
      shortDuration: 4,
      clusterWarmup: 1,
      clusterDuration: 4,
      signInUsers: 16,
      signInDuration: 10,
      rows: 1_000_000,
      tokens: 32,
      argon2Samples: 20,
    };
const only = args.only ? new Set(args.only.split(',')) : undefined;
const wanted = (id) => !only || only.has(id);
const complete = !args.smoke && !only;

const wallStart = performance.now();
const log = (message) => process.stderr.write(`[bench ${((performance.now() - wallStart) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

if (!args['no-build']) {
  log('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

// After the build: the bench uses Gatehouse's own modules for users, argon2 parameters and the sweep.
const { openDb } = await import('../dist/db/open_db.js');
const { createUsersRepo } = await import('../dist/accounts/users_repo.js');
const { ARGON2_PARAMS } = await import('../dist/accounts/passwords.js');
// Without them argon2 would time its own defaults (m=64 MiB, t=3, p=4: ~170 ms a verify, not ~30).
if (!ARGON2_PARAMS?.memoryCost) throw new Error('dist/accounts/passwords.js no longer exports ARGON2_PARAMS: the argon2 ceiling needs them');
const { sweepExpired } = await import('../dist/storage/sweep_expired.js');
const { benchConfig, benchUser } = await import('./bench_config.mjs');
const { createFreshDatabase } = await import('./database.mjs');
const { startBaseline, startGatehouse, rssSampler } = await import('./servers.mjs');
const { productionRuntimeEnv, describeRuntime } = await import('./production_runtime.mjs');
// Issue 19 compares the two servers on Node's default heap settings (the baseline's). glibc's
// malloc settings are the deployment's (the Dockerfile's GLIBC_TUNABLES): without them each of
// libuv's threads keeps the ~20 MiB arena of the argon2 checks it ran (the minting sign-ins), ~78 MB.
const dockerfileRuntime = productionRuntimeEnv();
const runtimeEnv = args['dockerfile-runtime'] ? dockerfileRuntime : args['node-defaults'] ? {} : { GLIBC_TUNABLES: dockerfileRuntime.GLIBC_TUNABLES };
const { loadTest, windowPercentiles } = await import('./load.mjs');
const { SCENARIOS } = await import('./scenarios.mjs');
const { mintTokens } = await import('./tokens.mjs');
const { inParallel } = await import('./flows.mjs');
const { argon2Ceiling, signInLoad } = await import('./sign_ins.mjs');
const { insertRows, waitForExpiry, countRows } = await import('./million_rows.mjs');
const { cpuSnapshot, cpuSince } = await import('./cpu_usage.mjs');
const { evaluateTargets, printReport, writeBenchmarksMd } = await import('./report.mjs');
const { hitRatioSince } = await import('./cache_metrics.mjs');
const { revocationPropagation } = await import('./propagation.mjs');
const percent = (hit) => (hit ? `${(100 * hit.ratio).toFixed(1)} % of ${hit.reads} token reads` : 'n/a');

function machine(postgres) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const version = (pkg) => JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  const osRelease = (() => {
    try {
      return /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
    } catch {
      return os.type();
    }
  })();
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${osRelease}, Linux ${os.release()}`,
    node: process.version,
    postgres,
    oidcProvider: version('oidc-provider'),
    autocannon: version('autocannon'),
    loadBefore: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
    runtime: describeRuntime(runtimeEnv) || 'Node.js defaults, no malloc settings (--node-defaults)',
  };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
const configFile = path.join(tmp, 'gatehouse.config.json');
writeFileSync(configFile, JSON.stringify(benchConfig, null, 2));
// Outside `tmp`, which is removed at the end: the profile must outlive the run.
const profileDir = args['cpu-prof'] ? mkdtempSync(path.join(os.tmpdir(), 'gatehouse-profile-')) : undefined;

const cleanups = [];
let cleaning;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((error) => log(`cleanup: ${error.message}`));
  })());
process.once('SIGINT', () => {
  log('interrupted: stopping servers, dropping the database');
  void cleanup().finally(() => process.exit(130));
});

try {
  const database = await createFreshDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  cleanups.push(() => database.drop());
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  log(`database ${database.name} (PostgreSQL ${database.serverVersion})`);
  const results = { settings: SETTINGS, smoke: args.smoke, startedAt: new Date().toISOString(), machine: machine(database.serverVersion), scenarios: [] };

  // The argon2 ceiling is timed twice, before the servers start and right before the sign-ins
  // (both servers idle then), and the faster of the two counts: the higher, stricter ceiling.
  // Timed once while anything else ran it came out at 120 ms instead of ~30 ms.
  const ceilingBefore = await argon2Ceiling(ARGON2_PARAMS, SETTINGS.argon2Samples);
  log(`argon2id verify ${ceilingBefore.verifyMs.toFixed(1)} ms before the servers start`);

  const [gatehouse, baseline] = await Promise.all([
    startGatehouse({
      databaseUrl: database.url,
      configFile,
      dataDir: path.join(tmp, 'data'),
      nodeArgs: args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      runtimeEnv,
    }),
    startBaseline({ configFile }),
  ]);
  cleanups.push(
    () => gatehouse.stop(),
    () => baseline.stop(),
  );
  const rss = rssSampler([gatehouse, baseline]);
  cleanups.push(async () => rss.stop());
  const idle = rss.window();
  const idleRss = { gatehouse: idle(gatehouse), baseline: idle(baseline) };
  log(`gatehouse pid ${gatehouse.pid} at ${gatehouse.url}; baseline pid ${baseline.pid} at ${baseline.url}`);

  // The bench's own connection to Gatehouse's database: users, bulk rows, the sweep.
  // No statement timeout: the bulk inserts of the million-row phase take several seconds each.
  const db = await openDb({ databaseUrl: database.url, dataDir: path.join(tmp, 'data'), poolSize: 2, role: 'cli', queryTimeoutMs: 0 });
  cleanups.push(() => db.close());
  const userCount = SETTINGS.signInUsers;
  const users = Array.from({ length: userCount }, (_, i) => benchUser(i));
  const repo = createUsersRepo(db);
  await inParallel(users.length, 4, (i) => repo.create(users[i]));

  const c = SETTINGS.connections;
  const tokenCounts = { refresh: 3 * c, userinfo: SETTINGS.tokens, opaque: 2 * SETTINGS.tokens };
  const tokens = {
    gatehouse: await mintTokens(gatehouse, {
      ...tokenCounts,
      credentials: (i) => ({ login: users[i % users.length].username, password: users[i % users.length].password }),
    }),
    baseline: await mintTokens(baseline, { ...tokenCounts, credentials: () => undefined }),
  };
  log('tokens minted through real flows on both servers');

  const servers = { baseline, gatehouse };
  const measureWindow = (server) => () => {
    const peak = rss.window();
    const pids = server.pids();
    const cpu = cpuSnapshot(pids);
    return () => ({ peakRss: peak(server), cpu: cpuSince(pids, cpu) });
  };
  // A Gatehouse cluster on the same database replays the single Gatehouse's tokens.
  const tokensOf = (server) => tokens[server.name === 'baseline' ? 'baseline' : 'gatehouse'];
  const run = async (server, scenario, overrides = {}) => {
    const t = tokensOf(server);
    if (scenario.id === 'refresh') await t.refresh.topUp(3 * c);
    return loadTest({
      url: server.url,
      request: scenario.request(t),
      connections: c,
      warmup: SETTINGS.warmup,
      duration: scenario.short ? SETTINGS.shortDuration : SETTINGS.duration,
      window: measureWindow(server),
      ...overrides,
    });
  };

  for (const scenario of SCENARIOS.filter((s) => wanted(s.id))) {
    const row = { id: scenario.id, title: scenario.title, target: scenario.target };
    for (const name of ['baseline', 'gatehouse']) {
      const hitRatio = name === 'gatehouse' ? await hitRatioSince(servers[name]) : undefined;
      row[name] = await run(servers[name], scenario);
      const r = row[name];
      if (hitRatio) row.cacheHit = await hitRatio();
      log(
        `${scenario.id.padEnd(13)} ${name.padEnd(9)} ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors` +
          (r.errors ? ` (status codes ${JSON.stringify(r.statusCodes)}; first wrong body: ${r.firstWrongBody ?? '–'})` : '') +
          (hitRatio ? `; read cache hits ${percent(row.cacheHit)}` : ''),
      );
    }
    row.ratio = row.gatehouse.rps / row.baseline.rps;
    results.scenarios.push(row);
  }

  if (!only || only.has('signin')) {
    const ceilingNow = await argon2Ceiling(ARGON2_PARAMS, SETTINGS.argon2Samples);
    const ceiling = { ...(ceilingNow.verifyMs < ceilingBefore.verifyMs ? ceilingNow : ceilingBefore), timings: [ceilingBefore.verifyMs, ceilingNow.verifyMs] };
    log(
      `argon2id verify ${ceilingNow.verifyMs.toFixed(1)} ms now, ${ceilingBefore.verifyMs.toFixed(1)} ms before the servers started → ` +
        `ceiling ${ceiling.perSecond.toFixed(1)} sign-ins/s on ${ceiling.cores} cores`,
    );
    const transactionsBefore = await database.transactions();
    const signIns = await signInLoad(gatehouse.url, {
      users: users.slice(0, SETTINGS.signInUsers),
      warmup: SETTINGS.warmup,
      duration: SETTINGS.signInDuration,
      window: measureWindow(gatehouse),
    });
    if (signIns.firstError) log(`sign-in error: ${signIns.firstError.message}`);
    // Statements per sign-in, as the database counted them (bench/count_round_trips.mjs names them).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    signIns.statementsPerSignIn = ((await database.transactions()) - transactionsBefore) / Math.max(1, signIns.attempts);
    results.signIns = { ...signIns, ceiling, ratio: signIns.rps / ceiling.perSecond };
    log(
      `sign-ins      gatehouse ${signIns.rps.toFixed(1)}/s (ceiling ${ceiling.perSecond.toFixed(1)}), ${signIns.errors} errors, ` +
        `${signIns.statementsPerSignIn.toFixed(1)} database statements per sign-in`,
    );
  }

  if (!only || only.has('million')) {
    const byId = (id) => results.scenarios.find((s) => s.id === id);
    const scenario = (id) => SCENARIOS.find((s) => s.id === id);
    // Every scenario that reads the token tables runs again with the rows (client_credentials,
    // discovery and JWKS read none).
    const rerun = ['refresh', 'introspection', 'userinfo'];
    const empty = {};
    for (const id of rerun) empty[id] = byId(id)?.gatehouse ?? (await run(gatehouse, scenario(id)));

    // The bulk rows expire just after the two re-runs, so the sweep that follows finds them
    // expired without an UPDATE of every row (which takes longer than the whole bench may).
    const margin = args.smoke ? 1 : 4;
    const insertEstimate = SETTINGS.rows / 50_000 + margin;
    const rerunEstimate = rerun.length * (SETTINGS.warmup + SETTINGS.duration) + margin;
    const expiresAt = new Date(Date.now() + (insertEstimate + rerunEstimate) * 1000);
    log(`inserting ${SETTINGS.rows.toLocaleString('en-US')} rows into oidc_models`);
    const insert = await insertRows(db.pool, SETTINGS.rows, expiresAt);
    log(`inserted in ${insert.seconds.toFixed(1)} s`);
    const full = {};
    for (const id of rerun) full[id] = await run(gatehouse, scenario(id));
    const { introspection } = full;
    const expiredEarly = Date.now() > expiresAt.getTime();
    log(`with ${SETTINGS.rows} rows: ${rerun.map((id) => `${id} ${Math.round(full[id].rps)} req/s`).join(', ')}`);

    const waited = await waitForExpiry(db.pool);
    const before = await countRows(db.pool);
    log(`waited ${waited.toFixed(1)} s for the rows to expire; ${before.n} rows, ${before.expired} expired; sweeping under introspection load`);
    const sweepLoad = await run(gatehouse, scenario('introspection'), {
      warmup: 0,
      duration: 600,
      during: async (stop) => {
        // Some load before and after the sweep, so its window is inside a steady run.
        const lead = args.smoke ? 200 : 1000;
        await sleep(lead);
        const from = performance.now();
        const deleted = await sweepExpired(db);
        const to = performance.now();
        await sleep(lead / 2);
        stop();
        return { deleted, from, to };
      },
    });
    const { deleted, from, to } = sweepLoad.during;
    const inSweep = windowPercentiles(sweepLoad.timeline, from, to);
    results.million = {
      rows: SETTINGS.rows,
      insert,
      expiredEarly,
      reruns: rerun.map((id) => ({ id, title: scenario(id).title, empty: empty[id], full: full[id], ratio: full[id].rps / empty[id].rps })),
      sweep: {
        deleted,
        seconds: (to - from) / 1000,
        connections: c,
        count: inSweep.count,
        p50: inSweep.p50,
        p99: inSweep.p99,
        errors: sweepLoad.errors,
        normalP99: introspection.p99,
        emptyP99: empty.introspection.p99,
        ratio: inSweep.p99 / introspection.p99,
        peakRss: sweepLoad.peakRss,
      },
    };
    log(`sweep deleted ${deleted} rows in ${((to - from) / 1000).toFixed(1)} s; p99 ${inSweep.p99.toFixed(1)} ms during it`);
  }

  if (!only || only.has('propagation')) {
    // A second instance on the same database: revoke at the first, introspect at the second.
    const second = await startGatehouse({
      databaseUrl: database.url,
      configFile,
      dataDir: path.join(tmp, 'data-b'),
      runtimeEnv,
      name: 'gatehouse-b',
    });
    cleanups.push(() => second.stop());
    const propagation = await revocationPropagation(gatehouse, second, { revocations: args.smoke ? 10 : 200 });
    results.propagation = propagation;
    log(
      `propagation   revoke at A → refused at B: p50 ${propagation.p50.toFixed(1)} ms, p99 ${propagation.p99.toFixed(1)} ms, max ${propagation.max.toFixed(1)} ms ` +
        `over ${propagation.revocations} revocations; ${propagation.staleAfter} active answers after the first refusal, ${propagation.neverRefused} never refused`,
    );
    await second.stop();
  }

  if (!only || only.has('cluster')) {
    // WEB_CONCURRENCY = cores against the single-process baseline of the same run. Shorter runs
    // than above, and only the token scenarios: this phase must fit in the bench's five minutes.
    const workers = os.availableParallelism();
    log(`starting a Gatehouse cluster of ${workers} workers on the same database`);
    const cluster = await startGatehouse({
      databaseUrl: database.url,
      configFile,
      dataDir: path.join(tmp, 'data-cluster'),
      runtimeEnv,
      workers,
      name: 'gatehouse-cluster',
    });
    cleanups.push(() => cluster.stop());
    rss.add(cluster);
    const rows = [];
    for (const scenario of SCENARIOS.filter((s) => !s.short)) {
      const baselineRun = results.scenarios.find((s) => s.id === scenario.id)?.baseline ?? (await run(baseline, scenario));
      const hitRatio = await hitRatioSince(cluster);
      const r = await run(cluster, scenario, { warmup: SETTINGS.clusterWarmup, duration: SETTINGS.clusterDuration });
      const cacheHit = await hitRatio();
      rows.push({ id: scenario.id, title: scenario.title, gatehouse: r, baseline: baselineRun, ratio: r.rps / baselineRun.rps, cacheHit });
      log(
        `${scenario.id.padEnd(13)} cluster   ${Math.round(r.rps)} req/s (${(r.rps / baselineRun.rps).toFixed(2)}× the baseline), p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors; read cache hits ${percent(cacheHit)}`,
      );
    }
    results.cluster = { workers, scenarios: rows, hwm: rss.hwm(cluster) };
    await cluster.stop();
  }

  results.hwm = { gatehouse: rss.hwm(gatehouse), baseline: rss.hwm(baseline) };
  results.idleRss = idleRss;
  results.gatehousePeakRss = Math.max(
    ...results.scenarios.map((s) => s.gatehouse.peakRss),
    results.signIns?.peakRss ?? 0,
    ...(results.million?.reruns.map((r) => r.full.peakRss) ?? []),
    results.million?.sweep.peakRss ?? 0,
  );
  // Issue 19's memory target: the largest peak under the token scenarios (both servers get the
  // same ones), sign-ins and the million rows left out.
  results.tokenLoadRss = {
    gatehouse: Math.max(0, ...results.scenarios.map((s) => s.gatehouse.peakRss)),
    baseline: Math.max(0, ...results.scenarios.map((s) => s.baseline.peakRss)),
  };
  results.machine.loadAfter = os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  if (gatehouse.logLines() > 0) log(`gatehouse wrote ${gatehouse.logLines()} log lines at warn or above (first ones shown above)`);

  await cleanup();
  results.wallSeconds = (performance.now() - wallStart) / 1000;
  const targets = evaluateTargets(results);
  printReport(results, targets);
  // The read cache (README "Caches"): how much of each scenario it answered, and how soon another
  // instance stops serving a revoked token.
  for (const row of results.scenarios) log(`read cache    ${row.id.padEnd(13)} ${percent(row.cacheHit)}`);
  if (results.propagation) {
    const p = results.propagation;
    log(`propagation   p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms (target ≤ 100 ms at p99); stale answers after it: ${p.staleAfter}`);
  }
  if (complete) {
    await writeBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), results, targets);
    log('BENCHMARKS.md written');
  }
  if (args['cpu-prof']) log(`CPU profile of Gatehouse: node bench/profile_summary.mjs ${profileDir}/*.cpuprofile (kept: ${profileDir})`);
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
  await cleanup();
  process.exitCode = 1;
}
