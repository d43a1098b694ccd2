import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// CPU time spent by the server under test, by every Postgres process, and by this process (the
// load generator) between two snapshots. On two shared cores, requests per second say how fast
// the whole machine went; CPU per request says which process the time went to.

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in ms (0 if it is gone). */
function processMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function postgresMs() {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processMs(entry);
    } catch {
      // the process ended between readdir and read
    }
  }
  return total;
}

/** `pids`: the server's processes (a cluster's primary and workers); their CPU is added up. */
export function cpuSnapshot(pids) {
  const self = process.cpuUsage();
  const server = [pids].flat().reduce((sum, pid) => sum + processMs(pid), 0);
  return { server, postgres: postgresMs(), runner: (self.user + self.system) / 1000 };
}

/** ms of CPU each side used since `before`. */
export function cpuSince(pids, before) {
  const now = cpuSnapshot(pids);
  return { server: now.server - before.server, postgres: now.postgres - before.postgres, runner: now.runner - before.runner };
}
