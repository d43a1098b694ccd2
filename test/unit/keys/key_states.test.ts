import { describe, expect, it } from 'vitest';
import { deriveKeyStates, nextActivation, type TimedKey } from '../../../src/keys/key_states.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const at = (secondsFromNow: number) => new Date(NOW.getTime() + secondsFromNow * 1000);
const key = (kid: string, activatesIn: number, kind: TimedKey['kind'] = 'signing', alg: string | null = 'RS256'): TimedKey => ({
  kid,
  kind,
  alg: kind === 'cookie' ? null : alg,
  activates_at: at(activatesIn),
});
const RETENTION = { signingSeconds: 3600, cookieSeconds: 600 };

function states(keys: TimedKey[], now = NOW) {
  return Object.fromEntries(deriveKeyStates(keys, now, RETENTION).map((k) => [k.key.kid, k.state]));
}

describe('deriveKeyStates', () => {
  it('makes the newest key that has activated the active one', () => {
    expect(states([key('old', -7200), key('new', -60)])).toEqual({ old: 'retired', new: 'active' });
  });

  it('publishes a key that has not activated yet as next, while the current one keeps signing', () => {
    expect(states([key('current', -60), key('pending', 900)])).toEqual({ current: 'active', pending: 'next' });
  });

  it('activates a key at exactly its activation time', () => {
    expect(states([key('old', -100), key('due', 0)])).toEqual({ old: 'retired', due: 'active' });
  });

  it('dates a retirement from the successor’s activation and expires it after the retention', () => {
    const derived = deriveKeyStates([key('a', -10_000), key('b', -3600), key('c', -10)], NOW, RETENTION);
    const byKid = Object.fromEntries(derived.map((k) => [k.key.kid, k]));
    expect(byKid.c).toMatchObject({ state: 'active', retiredAt: null });
    expect(byKid.b).toMatchObject({ state: 'retired', retiredAt: at(-10) });
    // retired when b activated, 3600 s ago: not more than the retention yet
    expect(byKid.a).toMatchObject({ state: 'retired', retiredAt: at(-3600) });
    expect(states([key('a', -10_000), key('b', -3601)])).toEqual({ a: 'expired', b: 'active' });
  });

  it('keeps cookie keys for their own, shorter retention', () => {
    expect(states([key('c1', -2000, 'cookie'), key('c2', -601, 'cookie')])).toEqual({ c1: 'expired', c2: 'active' });
    expect(states([key('c1', -2000, 'cookie'), key('c2', -600, 'cookie')])).toEqual({ c1: 'retired', c2: 'active' });
  });

  it('rotates each kind and algorithm on its own', () => {
    expect(states([key('rs', -100, 'signing', 'RS256'), key('es', -50, 'signing', 'ES256'), key('cookie', -10, 'cookie')])).toEqual({
      rs: 'active',
      es: 'active',
      cookie: 'active',
    });
  });

  it('breaks a tie in activation time by kid, so every instance picks the same key', () => {
    const tie = [key('kid-a', -60), key('kid-b', -60)];
    expect(states(tie)).toEqual({ 'kid-b': 'active', 'kid-a': 'retired' });
    expect(states([...tie].reverse())).toEqual({ 'kid-b': 'active', 'kid-a': 'retired' });
  });

  it('has no active key when every key is still pending', () => {
    expect(states([key('p1', 10), key('p2', 20)])).toEqual({ p1: 'next', p2: 'next' });
  });

  it('returns nothing for no keys', () => {
    expect(deriveKeyStates([], NOW, RETENTION)).toEqual([]);
  });
});

describe('nextActivation', () => {
  it('is the soonest pending activation', () => {
    expect(nextActivation([key('a', -10), key('b', 300), key('c', 60)], NOW)).toEqual(at(60));
  });

  it('is null when nothing is pending (a key activating now is not pending)', () => {
    expect(nextActivation([key('a', -10), key('b', 0)], NOW)).toBeNull();
    expect(nextActivation([], NOW)).toBeNull();
  });
});
