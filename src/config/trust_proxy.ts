import proxyaddr from 'proxy-addr';

// TRUST_PROXY names the reverse proxies in front of Gatehouse: only their X-Forwarded-* is
// believed. `trust proxy: true` (the old meaning of `1`/`true`) believes the left-most
// X-Forwarded-For, which the client writes itself whenever a proxy appends to the header: a
// forged address then dodges the per-IP sign-in lockout, locks out someone else's address, and
// lands in audit rows and session lists. A hop count or the proxies' own addresses take the
// right-most address a trusted proxy added, never one the client sent.

export type TrustProxy =
  | { kind: 'off' }
  /** this many proxies in front, each appending to X-Forwarded-For */
  | { kind: 'hops'; hops: number }
  /** requests from these addresses/CIDRs (or proxy-addr's `loopback`, `linklocal`, `uniquelocal`) are proxies */
  | { kind: 'addresses'; addresses: string[] };

export interface ParsedTrustProxy {
  trust: TrustProxy;
  /** set when an old boolean spelling was used; said at start-up */
  deprecation?: string;
}

const OFF = new Set(['', '0', 'false', 'no', 'off']);
const OLD_ON = new Set(['true', 'yes', 'on']);

/** Parses TRUST_PROXY; returns an error message for a value that means nothing. */
export function parseTrustProxy(raw: string | undefined): ParsedTrustProxy | { error: string } {
  const value = (raw ?? '').trim().toLowerCase();
  if (OFF.has(value)) return { trust: { kind: 'off' } };
  if (OLD_ON.has(value)) {
    return {
      trust: { kind: 'hops', hops: 1 },
      deprecation: `TRUST_PROXY=${value} is deprecated: it now means one proxy hop (TRUST_PROXY=1); set a hop count or the proxies' addresses`,
    };
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > 32) return { error: 'a hop count must be between 1 and 32' };
    return { trust: { kind: 'hops', hops } };
  }
  const addresses = value.split(',').map((part) => part.trim());
  if (addresses.some((a) => a === '')) return { error: 'an empty entry in the list of proxy addresses' };
  for (const address of addresses) {
    try {
      proxyaddr.compile(address);
    } catch {
      return { error: `"${address}" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8,192.0.2.1)` };
    }
  }
  return { trust: { kind: 'addresses', addresses } };
}

/** Express's `trust proxy` setting for it. */
export function expressTrustProxy(trust: TrustProxy): false | number | string[] {
  if (trust.kind === 'off') return false;
  return trust.kind === 'hops' ? trust.hops : trust.addresses;
}
