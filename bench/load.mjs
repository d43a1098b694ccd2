import autocannon from 'autocannon';

// One load run: a warm-up (discarded), then the measured run with the same connections. The
// load generator runs in the bench process, on the same two cores as the servers.

/** p-th percentile of an ascending array (nearest rank). */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(latencies, { ok, failed, seconds }) {
  const sorted = Float64Array.from(latencies).sort();
  return { rps: ok / seconds, ok, errors: failed, seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/**
 * `request` is an autocannon request description ({ method, path, headers, body } and optionally
 * `requests`), plus `check(body)`: a 2xx response whose body fails it counts as an error.
 * Latencies are taken from autocannon's 'response' events (hrtime, fractional ms, 2xx only)
 * rather than its whole-millisecond histogram.
 * `window()` starts measuring the server under load (peak RSS, CPU) and returns a function that
 * ends the window and gives { peakRss, cpu }.
 * `during(stop)` may run alongside the measured load and stop it early; its result is returned
 * as `during`, and `timeline` keeps [time, ms] pairs so a window can be cut out afterwards.
 */
export async function loadTest({ url, request, connections, warmup, duration, window, during }) {
  const { path, check, requests = [{}], ...rest } = request;
  const counts = { wrongBody: 0 };
  // autocannon takes the path from the URL (a top-level `path` is ignored).
  const options = {
    url: `${url}${path}`,
    connections,
    timeout: 10,
    // autocannon notices the end of a run at its next sample; 100 ms keeps runs to length.
    sampleInt: 100,
    ...rest,
    requests: requests.map((r) => ({
      ...r,
      onResponse(status, body, context, headers) {
        if (status >= 300 || (check && !check(body))) {
          if (status < 300) counts.wrongBody++;
          counts.firstWrongBody ??= `${status} ${String(body).slice(0, 200)}`;
        }
        r.onResponse?.(status, body, context, headers);
      },
    })),
  };
  if (warmup > 0) await autocannon({ ...options, duration: warmup });

  counts.wrongBody = 0;
  counts.firstWrongBody = undefined;
  const latencies = [];
  const timeline = during ? [] : undefined;
  const finish = window();
  const started = performance.now();
  const instance = autocannon({ ...options, duration });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) {
      latencies.push(ms);
      timeline?.push(performance.now(), ms);
    }
  });
  const extra = during ? during(() => instance.stop()) : undefined;
  const results = await instance;
  const seconds = (performance.now() - started) / 1000;
  const measured = finish();
  const duringResult = await extra;
  const failed = results.errors + results.non2xx + counts.wrongBody;
  return {
    ...summarize(latencies, { ok: results['2xx'] - counts.wrongBody, failed, seconds }),
    statusCodes: Object.fromEntries(Object.entries(results.statusCodeStats).map(([code, { count }]) => [code, count])),
    firstWrongBody: counts.firstWrongBody,
    ...measured,
    during: duringResult,
    timeline,
  };
}

/** Latency percentiles of the responses that completed inside [from, to] (performance.now()). */
export function windowPercentiles(timeline, from, to) {
  const inside = [];
  for (let i = 0; i < timeline.length; i += 2) if (timeline[i] >= from && timeline[i] <= to) inside.push(timeline[i + 1]);
  const sorted = Float64Array.from(inside).sort();
  return { count: inside.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}
