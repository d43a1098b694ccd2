import { describe, expect, it } from 'vitest';
import { createThrottleKeys, ipKey } from '../../../src/throttling/throttle_keys.js';

describe('ipKey', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(ipKey('192.0.2.17')).toBe('192.0.2.17');
  });

  it('says "unknown" when there is no address', () => {
    expect(ipKey(undefined)).toBe('unknown');
    expect(ipKey('')).toBe('unknown');
  });

  it('reads an IPv4-mapped IPv6 address as the IPv4 address, in any case', () => {
    expect(ipKey('::ffff:192.0.2.17')).toBe('192.0.2.17');
    expect(ipKey('::FFFF:192.0.2.17')).toBe('192.0.2.17');
  });

  it('groups IPv6 addresses by their /64', () => {
    expect(ipKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  });

  it('gives every spelling of one /64 the same key (zero padding, case, compression, zone)', () => {
    const key = '2001:db8:0:a::/64';
    expect(ipKey('2001:0db8:0000:000a:0000:0000:0000:0001')).toBe(key);
    expect(ipKey('2001:DB8:0:A::1')).toBe(key);
    expect(ipKey('2001:db8::a:0:0:0:1')).toBe(key);
    expect(ipKey('2001:db8:0:a::1%eth0')).toBe(key);
  });

  it('expands "::" at either end and counts an embedded IPv4 tail as two groups', () => {
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
    expect(ipKey('fe80::')).toBe('fe80:0:0:0::/64');
    expect(ipKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(ipKey('2001:db8:1:2:3:4:192.0.2.1')).toBe('2001:db8:1:2::/64');
  });

  it('keeps what is not an IP address, cut to 64 characters', () => {
    expect(ipKey('not an address')).toBe('not an address');
    expect(ipKey('x'.repeat(200))).toBe('x'.repeat(64));
    expect(ipKey('2001:db8::g')).toBe('2001:db8::g');
  });
});

describe('createThrottleKeys', () => {
  const keys = createThrottleKeys(Buffer.from('a secret of thirty-two bytes....'));
  const other = createThrottleKeys(Buffer.from('another secret of 32 bytes......'));

  it('never shows what was typed', () => {
    const key = keys.account({ login: 'correct horse battery staple' });
    expect(key).not.toContain('horse');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('is stable for one secret and differs under another', () => {
    expect(keys.account({ sub: 'u1' })).toBe(keys.account({ sub: 'u1' }));
    expect(keys.account({ sub: 'u1' })).not.toBe(other.account({ sub: 'u1' }));
  });

  it('keeps an account named by sub apart from a login that happens to read the same', () => {
    expect(keys.account({ sub: 'alice' })).not.toBe(keys.account({ login: 'alice' }));
  });

  it('counts one client from one /64 as one source', () => {
    expect(keys.clientSource('web', '2001:db8:1:2::1')).toBe(keys.clientSource('web', '2001:db8:1:2::ffff'));
    expect(keys.clientSource('web', '2001:db8:1:2::1')).not.toBe(keys.clientSource('web', '2001:db8:1:3::1'));
    expect(keys.clientSource('web', '192.0.2.1')).not.toBe(keys.clientSource('spa', '192.0.2.1'));
  });

  it('does not let a client id run into the address (separator)', () => {
    expect(keys.clientSource('a', 'b')).not.toBe(keys.clientSource('a\0b', undefined));
  });
});
