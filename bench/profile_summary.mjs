// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): self time by function and
// by package, so the hot spots of a scenario read in a few lines.
//   node bench/profile_summary.mjs <file.cpuprofile> [top=25] [--window=<seconds>] [--requests=<n>] [--inclusive]
// --window keeps the busiest stretch of that many seconds: with one scenario (--only=…) that is
// its measured run, without the start-up and the sign-ins that minted its tokens.
// --requests adds µs per request (the requests served in the window: req/s × its seconds), so
// two profiles of one scenario (Gatehouse's and the baseline's, or before and after) compare.
// --inclusive adds the time spent in each function and everything it called (each stack counted
// once per function), to see what a middleware or a wrapper costs with all it calls.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: options, positionals } = parseArgs({
  options: { window: { type: 'string' }, requests: { type: 'string' }, inclusive: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const [file, topArg] = positionals;
if (!file) {
  process.stderr.write('usage: node bench/profile_summary.mjs <file.cpuprofile> [top] [--window=<seconds>]\n');
  process.exit(1);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));

// Sample times (µs from the start); with --window, the busiest stretch of that length.
let clock = 0;
const times = profile.timeDeltas.map((delta) => (clock += delta));
let [from, to] = [-Infinity, Infinity];
if (options.window) {
  const width = Number(options.window) * 1e6;
  const busyAt = (i) => (idleIds.has(profile.samples[i]) ? 0 : (profile.timeDeltas[i] ?? 0));
  let best = -1;
  let busy = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    busy += busyAt(i);
    while (times[i] - times[j] > width) busy -= busyAt(j++);
    if (busy > best) [best, from, to] = [busy, times[j], times[i]];
  }
}

// Self time per node: samples are node ids, timeDeltas the microseconds before each sample.
// Percentages are of busy time: the idle samples (waiting for the next request) are left out.
const selfMicros = new Map();
profile.samples.forEach((id, i) => {
  if (times[i] >= from && times[i] <= to) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfMicros].filter(([id]) => !idleIds.has(id)).reduce((a, [, micros]) => a + micros, 0);

function where(url) {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.includes('/dist/')) return 'gatehouse';
  if (url.startsWith('node:')) return 'node';
  return url;
}

const byFunction = new Map();
const byPackage = new Map();
for (const node of profile.nodes) {
  const micros = selfMicros.get(node.id) ?? 0;
  if (!micros || idleIds.has(node.id)) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const pkg = where(url);
  const fnKey = `${functionName || '(anonymous)'}  ${pkg === '(native)' ? '' : `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`}`;
  byFunction.set(fnKey, (byFunction.get(fnKey) ?? 0) + micros);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
}

const requests = options.requests ? Number(options.requests) : undefined;
const perRequest = (micros) => (requests ? `${(micros / requests).toFixed(1).padStart(7)} µs  ` : '');
const pct = (micros) => `${((100 * micros) / total).toFixed(1).padStart(5)} %  ${perRequest(micros)}`.trimEnd();
const print = (title, map) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(micros)}  ${key}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s busy (idle left out)${requests ? `, ${perRequest(total).trim()} per request` : ''}\n`);
print('self time by package', byPackage);
print('self time by function', byFunction);

if (options.inclusive) {
  // A node's time with all below it: its self time plus its children's, a function counted once
  // per stack even when it recurses.
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const pkg = where(url);
    return `${functionName || '(anonymous)'}  ${pkg === '(native)' ? '' : `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`}`;
  };
  const inclusive = new Map();
  for (const [id, micros] of selfMicros) {
    if (idleIds.has(id)) continue;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at));
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
    }
  }
  print('inclusive time by function (with what it calls)', inclusive);
}
