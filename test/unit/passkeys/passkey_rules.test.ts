import { describe, expect, it } from 'vitest';
import { amrOf, cleanPasskeyName } from '../../../src/passkeys/passkey_ceremonies.js';

// The two small rules of passkeys that need no server: what a name may be, and which RFC 8176
// value a passkey is reported as.

describe('cleanPasskeyName', () => {
  it('trims, turns control characters into spaces and keeps the rest as typed', () => {
    expect(cleanPasskeyName('  Work laptop ')).toBe('Work laptop');
    expect(cleanPasskeyName('Phone\tkey\n')).toBe('Phone key');
    expect(cleanPasskeyName('Clé de sécurité 🔑')).toBe('Clé de sécurité 🔑');
    expect(cleanPasskeyName('x'.repeat(64))).toHaveLength(64);
  });

  it('refuses empty, too long, lone surrogates, NUL and non-strings', () => {
    for (const name of ['', '   ', 'x'.repeat(65), 'bad \ud800 name', 'nul \u0000 byte', undefined, 42, ['a']]) expect(cleanPasskeyName(name)).toBeUndefined();
  });
});

describe('amrOf', () => {
  it('is hwk for a device-bound passkey and swk for a synced (multi-device or backed-up) one', () => {
    expect(amrOf({ deviceType: 'singleDevice', backedUp: false })).toBe('hwk');
    expect(amrOf({ deviceType: 'multiDevice', backedUp: false })).toBe('swk');
    expect(amrOf({ deviceType: 'multiDevice', backedUp: true })).toBe('swk');
  });
});
