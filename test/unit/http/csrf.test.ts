import { describe, expect, it } from 'vitest';
import { createCsrf, CSRF_MAX_AGE_SECONDS } from '../../../src/http/csrf.js';

const KEY = 'cookie-key-one';
const START = 1_800_000_000_000;

function clock(ms = START) {
  const c = { ms, now: () => c.ms, advance: (seconds: number) => (c.ms += seconds * 1000) };
  return c;
}

function csrfWith(keys: string[], c = clock()) {
  return createCsrf({ cookieKeys: () => keys, now: c.now });
}

describe('CSRF tokens', () => {
  it('accepts a token for the purpose and binding it was issued for', () => {
    const csrf = csrfWith([KEY]);
    const token = csrf.issue('login', 'interaction-1');
    expect(token).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    expect(csrf.verify('login', 'interaction-1', token)).toBe(true);
  });

  it('refuses it for another binding (another browser’s interaction or session)', () => {
    const csrf = csrfWith([KEY]);
    expect(csrf.verify('login', 'interaction-2', csrf.issue('login', 'interaction-1'))).toBe(false);
  });

  it('refuses it for another purpose', () => {
    const csrf = csrfWith([KEY]);
    expect(csrf.verify('consent', 'interaction-1', csrf.issue('login', 'interaction-1'))).toBe(false);
  });

  it('does not let purpose and binding run into each other', () => {
    const csrf = csrfWith([KEY]);
    expect(csrf.verify('log', 'in\ninteraction-1', csrf.issue('login', 'interaction-1'))).toBe(false);
  });

  it('refuses a tampered token: another MAC, or the issue time moved', () => {
    const csrf = csrfWith([KEY]);
    const token = csrf.issue('login', 'i');
    const [issuedAt, mac] = token.split('.') as [string, string];
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    expect(csrf.verify('login', 'i', `${issuedAt}.${flipped}`)).toBe(false);
    const later = (parseInt(issuedAt, 36) + 1).toString(36);
    expect(csrf.verify('login', 'i', `${later}.${mac}`)).toBe(false);
  });

  it('refuses a token signed with a key this server does not have', () => {
    const token = csrfWith(['someone-elses-key']).issue('login', 'i');
    expect(csrfWith([KEY]).verify('login', 'i', token)).toBe(false);
  });

  it('keeps accepting a token signed with a key that rotation retired but that is still live', () => {
    const token = csrfWith(['old-key']).issue('login', 'i');
    const rotated = csrfWith(['new-key', 'old-key']);
    expect(rotated.verify('login', 'i', token)).toBe(true);
    expect(csrfWith(['new-key']).verify('login', 'i', token)).toBe(false);
  });

  it('signs new tokens with the first key', () => {
    const token = csrfWith(['new-key', 'old-key']).issue('login', 'i');
    expect(csrfWith(['new-key']).verify('login', 'i', token)).toBe(true);
    expect(csrfWith(['old-key']).verify('login', 'i', token)).toBe(false);
  });

  it('expires a token after its maximum age', () => {
    const c = clock();
    const csrf = csrfWith([KEY], c);
    const token = csrf.issue('login', 'i');
    c.advance(CSRF_MAX_AGE_SECONDS);
    expect(csrf.verify('login', 'i', token)).toBe(true);
    c.advance(1);
    expect(csrf.verify('login', 'i', token)).toBe(false);
  });

  it('honours a shorter maximum age', () => {
    const c = clock();
    const csrf = createCsrf({ cookieKeys: () => [KEY], now: c.now, maxAgeSeconds: 10 });
    const token = csrf.issue('login', 'i');
    c.advance(11);
    expect(csrf.verify('login', 'i', token)).toBe(false);
  });

  it('tolerates a minute of clock skew between instances, not more', () => {
    const issuer = clock(START + 60_000);
    const token = csrfWith([KEY], issuer).issue('login', 'i');
    expect(csrfWith([KEY], clock(START)).verify('login', 'i', token)).toBe(true);
    expect(csrfWith([KEY], clock(START - 1000)).verify('login', 'i', token)).toBe(false);
  });

  it('refuses what is not a token', () => {
    const csrf = csrfWith([KEY]);
    const token = csrf.issue('login', 'i');
    for (const bad of [undefined, null, 42, ['x'], { token }, '', 'abc', `${token}x`, `${token}.x`, token.replace('.', ''), `${token} `, 'x'.repeat(200)]) {
      expect(csrf.verify('login', 'i', bad), JSON.stringify(bad)).toBe(false);
    }
    // an array holding the valid token (a repeated form field) is not the token
    expect(csrf.verify('login', 'i', [token])).toBe(false);
  });

  it('cannot issue without a cookie key', () => {
    expect(() => csrfWith([]).issue('login', 'i')).toThrow(/no cookie key/);
  });
});
