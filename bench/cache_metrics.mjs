// The read cache's hits and misses (gatehouse_cache_hits_total / _misses_total on /metrics), so
// each scenario can say how much of it the cache answered. A cluster's /metrics adds its
// workers' counts up; the baseline has none.

async function counts(server) {
  const res = await fetch(`${server.url}/metrics`);
  if (!res.ok) return undefined;
  const text = await res.text();
  const sum = (name) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) && line.includes('kind="token"'))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { hits: sum('gatehouse_cache_hits_total'), misses: sum('gatehouse_cache_misses_total') };
}

/** Call before a run; the function it returns gives the run's token hit ratio (null with no reads). */
export async function hitRatioSince(server) {
  const before = await counts(server);
  return async () => {
    const after = await counts(server);
    if (!before || !after) return null;
    const hits = after.hits - before.hits;
    const reads = hits + after.misses - before.misses;
    return reads > 0 ? { ratio: hits / reads, hits, reads } : null;
  };
}
