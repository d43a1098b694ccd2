import { basic, form } from './browser.mjs';
import { SECRETS } from './bench_config.mjs';
import { inParallel, tokenRequest } from './flows.mjs';

// How long a revocation at one instance takes to be seen by another on the same database
// (README "Caches"): an opaque token is introspected at B until B serves it from its cache,
// revoked at A, then introspected at B until B says inactive. The time from A's answer to the
// revocation to B's first "inactive" is one sample; after it, B must never say active again
// (`staleAfter` counts such answers over `confirm` more introspections per token).

const FORM = 'application/x-www-form-urlencoded';
const service = basic('service', SECRETS.service);
const introspector = basic('introspector', SECRETS.introspector);

async function post(url, auth, body) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': FORM }, body: form(body) });
  return { status: res.status, body: await res.json().catch(() => ({})) };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

export async function revocationPropagation(a, b, { revocations, confirm = 5, timeoutMs = 5_000 }) {
  const tokens = (await inParallel(revocations, 8, () => tokenRequest(a.url, service, { grant_type: 'client_credentials', scope: 'notes:read' }))).map(
    (t) => t.access_token,
  );
  const samples = [];
  let staleAfter = 0;
  let neverRefused = 0;
  for (const token of tokens) {
    const active = async () => (await post(`${b.url}/token/introspection`, introspector, { token })).body.active === true;
    // Twice: the second answer comes from B's cache when it has one.
    if (!(await active()) || !(await active())) throw new Error('a fresh token was not active at B');
    const revoked = await post(`${a.url}/token/revocation`, service, { token });
    if (revoked.status !== 200) throw new Error(`revocation at A answered ${revoked.status}`);
    const start = performance.now();
    let refused = false;
    while (performance.now() - start < timeoutMs) {
      if (!(await active())) {
        refused = true;
        break;
      }
    }
    if (!refused) {
      neverRefused += 1;
      continue;
    }
    samples.push(performance.now() - start);
    for (let i = 0; i < confirm; i++) if (await active()) staleAfter += 1;
  }
  const sorted = samples.toSorted((x, y) => x - y);
  return {
    revocations,
    p50: sorted.length ? percentile(sorted, 50) : NaN,
    p99: sorted.length ? percentile(sorted, 99) : NaN,
    max: sorted.length ? sorted.at(-1) : NaN,
    staleAfter,
    neverRefused,
  };
}
