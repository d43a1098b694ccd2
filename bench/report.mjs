import { readFile, writeFile } from 'node:fs/promises';

// The table printed to stdout and BENCHMARKS.md. The generated part of BENCHMARKS.md sits
// between two markers; anything outside them (notes written by hand) is kept on every run.

const START = '<!-- bench:generated:start -->';
const END = '<!-- bench:generated:end -->';

const MB = 1024 * 1024;
const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const ms = (n) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '–');
const x = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const mb = (n) => (n ? `${Math.round(n / MB)} MB` : '–');

/** The sign-in's statements before issue 19 (BENCHMARKS.md): its part 3 asks for half. */
const SIGN_IN_STATEMENTS_BEFORE = 31;

/** Every target of issue 19 (and the two of issue 6 it keeps) with what this run measured. */
export function evaluateTargets(r) {
  const targets = [];
  for (const s of r.scenarios.filter((s) => s.target)) {
    targets.push({ name: `${s.title}: Gatehouse ÷ baseline req/s`, goal: `≥ ${s.target}×`, measured: x(s.ratio), met: s.ratio >= s.target });
  }
  if (r.signIns) {
    const c = r.signIns.ceiling;
    targets.push({
      name: `interactive sign-ins/s ÷ argon2 ceiling (${c.cores} cores ÷ ${ms(c.verifyMs)} ms a verify)`,
      goal: '≥ 0.6×',
      measured: `${x(r.signIns.ratio)} (${r.signIns.rps.toFixed(1)} of ${c.perSecond.toFixed(1)}/s)`,
      met: r.signIns.ratio >= 0.6,
    });
    const n = r.signIns.statementsPerSignIn;
    targets.push({
      name: `database statements per interactive sign-in (first-party client; ${SIGN_IN_STATEMENTS_BEFORE} before issue 19)`,
      goal: `≤ ${SIGN_IN_STATEMENTS_BEFORE / 2}`,
      measured: n.toFixed(1),
      met: n <= SIGN_IN_STATEMENTS_BEFORE / 2,
    });
  }
  if (r.propagation) {
    const p = r.propagation;
    targets.push({
      name: `revocation at one instance refused by another, p99 of ${p.revocations}`,
      goal: '≤ 100 ms',
      measured: `${ms(p.p99)} ms (p50 ${ms(p.p50)})`,
      met: p.p99 <= 100 && p.neverRefused === 0,
    });
    targets.push({ name: 'active answers after the first refusal (stale)', goal: '0', measured: int(p.staleAfter), met: p.staleAfter === 0 });
  }
  if (r.tokenLoadRss) {
    const { gatehouse, baseline } = r.tokenLoadRss;
    const ratio = gatehouse / baseline;
    targets.push({
      name: "peak RSS under token load ÷ the baseline's (the same scenarios)",
      goal: '≤ 1.2×',
      measured: `${x(ratio)} (${mb(gatehouse)} vs ${mb(baseline)})`,
      met: ratio <= 1.2,
    });
  }
  if (r.million) {
    const m = r.million;
    for (const rerun of m.reruns) {
      targets.push({ name: `${rerun.id} with ${int(m.rows)} extra rows ÷ empty table`, goal: '≥ 0.9×', measured: x(rerun.ratio), met: rerun.ratio >= 0.9 });
    }
    targets.push({
      name: `introspection p99 while the sweep deletes ${int(m.sweep.deleted)} expired rows ÷ normal p99 (issue 6)`,
      goal: '≤ 2×',
      measured: `${x(m.sweep.ratio)} (${ms(m.sweep.p99)} vs ${ms(m.sweep.normalP99)} ms)`,
      met: m.sweep.ratio <= 2,
    });
  }
  targets.push({ name: '`npm run bench` wall time (issue 6)', goal: '< 5 min', measured: `${Math.round(r.wallSeconds)} s`, met: r.wallSeconds < 300 });
  return targets;
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function resultsTable(r) {
  const rows = r.scenarios.map((s) => [
    s.title,
    int(s.gatehouse.rps),
    ms(s.gatehouse.p50),
    ms(s.gatehouse.p99),
    int(s.gatehouse.errors),
    mb(s.gatehouse.peakRss),
    int(s.baseline.rps),
    ms(s.baseline.p50),
    ms(s.baseline.p99),
    int(s.baseline.errors),
    mb(s.baseline.peakRss),
    x(s.ratio),
  ]);
  if (r.signIns) {
    const s = r.signIns;
    rows.push([
      'interactive sign-in (authorize → login/argon2 → code → token)',
      s.rps.toFixed(1),
      ms(s.p50),
      ms(s.p99),
      int(s.errors),
      mb(s.peakRss),
      `ceiling ${s.ceiling.perSecond.toFixed(1)}`,
      '',
      '',
      '',
      '',
      `${x(s.ratio)} of ceiling`,
    ]);
  }
  return table(
    [
      'scenario',
      'GH req/s',
      'GH p50 ms',
      'GH p99 ms',
      'GH errors',
      'GH peak RSS',
      'base req/s',
      'base p50 ms',
      'base p99 ms',
      'base errors',
      'base peak RSS',
      'GH ÷ base',
    ],
    rows,
  );
}

// Clock ticks are 10 ms and processes come and go: a tiny negative difference reads as 0.
const us = (ms, n) => (n > 0 && Number.isFinite(ms) ? Math.max(0, Math.round((1000 * ms) / n)).toLocaleString('en-US') : '–');

/** Where the two cores went: CPU per successful request, by process. */
export function cpuTable(r) {
  const rows = r.scenarios.map((s) => {
    const g = s.gatehouse;
    const b = s.baseline;
    return [
      s.title,
      us(g.cpu.server, g.ok),
      us(g.cpu.postgres, g.ok),
      us(g.cpu.runner, g.ok),
      us(b.cpu.server, b.ok),
      us(b.cpu.runner, b.ok),
      x(g.cpu.server / g.ok / (b.cpu.server / b.ok)),
    ];
  });
  if (r.signIns) {
    const g = r.signIns;
    rows.push(['interactive sign-in (whole flow)', us(g.cpu.server, g.ok), us(g.cpu.postgres, g.ok), us(g.cpu.runner, g.ok), '', '', '']);
  }
  return table(['scenario', 'GH server µs', 'Postgres µs', 'load gen µs', 'base server µs', 'load gen µs', 'GH ÷ base server CPU'], rows);
}

/** Gatehouse with WEB_CONCURRENCY = cores against the single-process baseline. */
export function clusterTable(r) {
  const c = r.cluster;
  if (!c) return '';
  return table(
    [
      'scenario',
      'GH req/s',
      'GH p50 ms',
      'GH p99 ms',
      'GH errors',
      'GH peak RSS per worker',
      'GH µs CPU/req (all workers)',
      'Postgres µs',
      'base req/s (1 process)',
      'GH ÷ base',
    ],
    c.scenarios.map((s) => [
      s.title,
      int(s.gatehouse.rps),
      ms(s.gatehouse.p50),
      ms(s.gatehouse.p99),
      int(s.gatehouse.errors),
      mb(s.gatehouse.peakRss),
      us(s.gatehouse.cpu.server, s.gatehouse.ok),
      us(s.gatehouse.cpu.postgres, s.gatehouse.ok),
      int(s.baseline.rps),
      x(s.ratio),
    ]),
  );
}

export function millionTable(r) {
  const m = r.million;
  if (!m) return '';
  return table(
    ['scenario (Gatehouse)', 'empty req/s', 'empty p99 ms', `+${int(m.rows)} rows req/s`, 'p99 ms', 'errors', 'ratio'],
    m.reruns.map((s) => [s.title, int(s.empty.rps), ms(s.empty.p99), int(s.full.rps), ms(s.full.p99), int(s.full.errors), x(s.ratio)]),
  );
}

/** How much of each scenario's token reads Gatehouse's read cache answered (README "Caches"). */
export function cacheTable(r) {
  const share = (hit) => (hit ? `${(100 * hit.ratio).toFixed(1)} %` : '–');
  const rows = r.scenarios.map((s) => [s.title, share(s.cacheHit), hit(s.cacheHit)]);
  for (const s of r.cluster?.scenarios ?? []) rows.push([`${s.title}, WEB_CONCURRENCY=${r.cluster.workers}`, share(s.cacheHit), hit(s.cacheHit)]);
  return table(['scenario (Gatehouse)', 'token reads answered by the cache', 'hits of reads'], rows);
}
const hit = (h) => (h ? `${int(h.hits)} of ${int(h.reads)}` : 'no token read');

/** Revocation at one instance, seen by another (bench/propagation.mjs). */
function propagationParagraph(r) {
  const p = r.propagation;
  if (!p) return '_Revocation propagation was not measured in this run._';
  return (
    `A second Gatehouse on the same database: ${int(p.revocations)} opaque tokens, each introspected at B until B answered ` +
    `from its cache, revoked at A, then introspected at B until B said inactive. From A's answer to B's first refusal: ` +
    `p50 ${ms(p.p50)} ms, p99 ${ms(p.p99)} ms, max ${ms(p.max)} ms; ${int(p.neverRefused)} never refused within 5 s; ` +
    `${int(p.staleAfter)} active answers in the 5 introspections per token after the first refusal.`
  );
}

export function targetsTable(targets) {
  return table(
    ['target', 'goal', 'measured', 'result'],
    targets.map((t) => [t.name, t.goal, t.measured, t.met ? 'met' : '**missed**']),
  );
}

function sweepParagraph(m) {
  const s = m.sweep;
  return (
    `Inserted ${int(m.rows)} rows (${int(m.insert.grants)} Grant, ${int(m.insert.refresh)} RefreshToken, ` +
    `${int(m.insert.access)} AccessToken, grant_id set) in ${m.insert.seconds.toFixed(1)} s; they were inserted to expire ` +
    `just after the re-runs above. \`sweepExpired\` (dist/storage/sweep_expired.js, batches of 5,000) then deleted ` +
    `${int(s.deleted)} expired rows in ${s.seconds.toFixed(1)} s (${int(s.deleted / s.seconds)} rows/s) while introspection ` +
    `ran at ${r0(s.connections)} connections: ${int(s.count)} responses completed during the sweep, ` +
    `${int(s.errors)} errors over the whole load, p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms against ${ms(s.normalP99)} ms ` +
    `without a sweep on the same table (${ms(s.emptyP99)} ms on the empty table).`
  );
}
const r0 = (n) => String(n);

/** The sign-in's database statements per flow (pg_stat_database transactions ÷ sign-ins attempted). */
function signInStatements(r) {
  const n = r.signIns?.statementsPerSignIn;
  if (n === undefined) return [];
  const [before, now] = r.signIns.ceiling.timings ?? [];
  return [
    `The argon2 ceiling: one argon2id verify with Gatehouse's parameters, timed in the bench process before the servers started (${ms(before)} ms, median) and again right before the sign-ins (${ms(now)} ms); the faster counts.`,
    '',
    `Database statements per interactive sign-in (all its requests; transactions counted by pg_stat_database over the load ÷ sign-ins attempted): ${n.toFixed(1)}. By statement and request: \`node bench/count_round_trips.mjs 20\`.`,
    '',
  ];
}

export function printReport(r, targets) {
  const out = [
    '',
    `Gatehouse vs bare oidc-provider — ${r.settings.connections} connections, ${r.settings.warmup} s warm-up, ${r.settings.duration} s measured` +
      (r.smoke ? ' (SMOKE: tiny durations, numbers are not meaningful)' : ''),
    '',
    resultsTable(r),
    '',
    'CPU per successful request (µs of CPU time, all threads of each process):',
    '',
    cpuTable(r),
    '',
    ...signInStatements(r),
    'Read cache:',
    '',
    cacheTable(r),
    '',
    propagationParagraph(r),
    '',
  ];
  if (r.cluster) out.push(`WEB_CONCURRENCY=${r.cluster.workers}:`, '', clusterTable(r), '');
  if (r.million) out.push(millionTable(r), '', sweepParagraph(r.million), '');
  out.push(
    targetsTable(targets),
    '',
    `RSS after start: Gatehouse ${mb(r.idleRss.gatehouse)}, baseline ${mb(r.idleRss.baseline)}; lifetime peak: Gatehouse ${mb(r.hwm.gatehouse)}, baseline ${mb(r.hwm.baseline)}`,
    `wall time ${Math.round(r.wallSeconds)} s; load average ${r.machine.loadBefore} before, ${r.machine.loadAfter} after`,
    '',
  );
  process.stdout.write(out.join('\n'));
}

function markdown(r, targets) {
  const m = r.machine;
  return `${START}
_Generated by \`npm run bench\` on ${r.startedAt.slice(0, 10)}; numbers from one run, Gatehouse and the
baseline loaded one after the other in that run. Re-run to refresh this section._

### Targets (issue 19)

${targetsTable(targets)}

### Results

${r.settings.connections} connections per scenario, ${r.settings.warmup} s warm-up then ${r.settings.duration} s measured
(${r.settings.shortDuration} s for discovery and JWKS). req/s counts successful responses; errors are socket errors,
non-2xx responses and wrong bodies (an introspection answering \`active: false\` counts). p50/p99 are
per-request latencies of successful responses. Peak RSS is the highest VmRSS of the server
process sampled every 50 ms during the measured run.

${resultsTable(r)}

CPU time per successful request, by process (µs; all threads, so the Gatehouse column includes
argon2 on libuv's pool; "Postgres" is every postgres process on the machine). Requests per second
depend on the whole machine; these columns show where its two cores went.

${cpuTable(r)}

${signInStatements(r).join('\n')}
### Read cache and revocation between instances

${cacheTable(r)}

${propagationParagraph(r)}

### With WEB_CONCURRENCY = ${r.cluster?.workers ?? '–'} (one worker per core)

${
  r.cluster
    ? `The same requests against a Gatehouse cluster of ${r.cluster.workers} workers on the same database, ${r.settings.clusterWarmup} s warm-up
then ${r.settings.clusterDuration} s measured each, compared with the single-process baseline above. Peak RSS is that of the
largest worker; CPU adds up the primary and every worker.

${clusterTable(r)}`
    : '_Not measured in this run._'
}

### With ${int(r.million?.rows ?? 0)} rows in oidc_models

${millionTable(r)}

${r.million ? sweepParagraph(r.million) : ''}

RSS right after start: Gatehouse ${mb(r.idleRss.gatehouse)}, baseline ${mb(r.idleRss.baseline)}. Lifetime peak (VmHWM):
Gatehouse ${mb(r.hwm.gatehouse)}, baseline ${mb(r.hwm.baseline)}. Wall time of the run: ${Math.round(r.wallSeconds)} s.

### Machine

| | |
|---|---|
| CPU | ${m.cpu} × ${m.cores} (\`nproc\` ${m.nproc}) |
| memory | ${m.memory} |
| OS | ${m.os} |
| Node.js | ${m.node} |
| PostgreSQL | ${m.postgres} (same machine, over TCP on 127.0.0.1) |
| oidc-provider | ${m.oidcProvider} |
| autocannon | ${m.autocannon} |
| Gatehouse runtime | ${m.runtime ?? '–'} |
| load average | ${m.loadBefore} at start, ${m.loadAfter} at end |
${END}`;
}

export async function writeBenchmarksMd(file, r, targets) {
  const generated = markdown(r, targets);
  let existing;
  try {
    existing = await readFile(file, 'utf8');
  } catch {
    existing = undefined;
  }
  const text =
    existing && existing.includes(START) && existing.includes(END)
      ? existing.slice(0, existing.indexOf(START)) + generated + existing.slice(existing.indexOf(END) + END.length)
      : `# Benchmarks\n\n${generated}\n`;
  await writeFile(file, text);
}
