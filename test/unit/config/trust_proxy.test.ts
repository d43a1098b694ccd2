import { describe, expect, it } from 'vitest';
import { expressTrustProxy, parseTrustProxy } from '../../../src/config/trust_proxy.js';

describe('parseTrustProxy', () => {
  it.each([undefined, '', '0', 'false', 'no', 'off', ' OFF '])('reads %j as off', (raw) => {
    expect(parseTrustProxy(raw)).toEqual({ trust: { kind: 'off' } });
  });

  it('reads a hop count', () => {
    expect(parseTrustProxy('1')).toEqual({ trust: { kind: 'hops', hops: 1 } });
    expect(parseTrustProxy('32')).toEqual({ trust: { kind: 'hops', hops: 32 } });
  });

  it('refuses a hop count out of range', () => {
    expect(parseTrustProxy('33')).toEqual({ error: 'a hop count must be between 1 and 32' });
  });

  it('reads the old boolean spellings as one hop, with a deprecation to say at start-up', () => {
    for (const raw of ['true', 'yes', 'On']) {
      const parsed = parseTrustProxy(raw);
      expect(parsed).toMatchObject({ trust: { kind: 'hops', hops: 1 } });
      expect('deprecation' in parsed && parsed.deprecation).toMatch(/deprecated: it now means one proxy hop/);
    }
  });

  it('reads a list of addresses, CIDR ranges and proxy-addr names', () => {
    expect(parseTrustProxy('10.0.0.0/8, 192.0.2.1,loopback,2001:db8::/32')).toEqual({
      trust: { kind: 'addresses', addresses: ['10.0.0.0/8', '192.0.2.1', 'loopback', '2001:db8::/32'] },
    });
  });

  it('names the entry that is neither a count nor an address', () => {
    expect(parseTrustProxy('10.0.0.1,nginx')).toEqual({ error: '"nginx" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8,192.0.2.1)' });
    expect(parseTrustProxy('-1')).toEqual({ error: '"-1" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8,192.0.2.1)' });
    expect(parseTrustProxy('10.0.0.0/99')).toEqual({
      error: '"10.0.0.0/99" is not a hop count, an IP address or a CIDR range (e.g. 1, or 10.0.0.0/8,192.0.2.1)',
    });
  });

  it('refuses an empty entry in a list', () => {
    expect(parseTrustProxy('10.0.0.1,,10.0.0.2')).toEqual({ error: 'an empty entry in the list of proxy addresses' });
  });
});

describe('expressTrustProxy', () => {
  it('maps each kind to Express’s setting, never to `true`', () => {
    expect(expressTrustProxy({ kind: 'off' })).toBe(false);
    expect(expressTrustProxy({ kind: 'hops', hops: 2 })).toBe(2);
    expect(expressTrustProxy({ kind: 'addresses', addresses: ['10.0.0.1'] })).toEqual(['10.0.0.1']);
  });
});
