// The life of a key, derived from times alone so every instance agrees without coordination:
//   next     published (JWKS / accepted for cookies) but not yet used to sign: activates_at > now
//   active   the newest key of its kind and alg whose activates_at has passed: signs
//   retired  a newer key has activated; still published so what it signed keeps verifying
//   expired  retired for longer than anything it signed can live: dropped
// A rotation inserts a key that activates after a propagation delay, so relying parties that
// cache the JWKS have seen the new key before any token carries its kid.

export type KeyState = 'next' | 'active' | 'retired' | 'expired';

export interface TimedKey {
  kid: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  activates_at: Date;
}

export interface KeyWithState<K extends TimedKey> {
  key: K;
  state: KeyState;
  /** when it stopped signing (the next key's activation), for retired and expired keys */
  retiredAt: Date | null;
}

/** How long a retired key stays published, by kind (the longest life of what it signed). */
export interface Retention {
  signingSeconds: number;
  cookieSeconds: number;
}

export function deriveKeyStates<K extends TimedKey>(keys: readonly K[], now: Date, retention: Retention): KeyWithState<K>[] {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = `${key.kind}:${key.alg ?? ''}`;
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  const out: KeyWithState<K>[] = [];
  for (const group of groups.values()) {
    // newest activation first
    const sorted = [...group].sort((a, b) => b.activates_at.getTime() - a.activates_at.getTime() || b.kid.localeCompare(a.kid));
    let successorActivation: Date | null = null;
    let seenActive = false;
    for (const key of sorted) {
      if (key.activates_at > now) {
        out.push({ key, state: 'next', retiredAt: null });
      } else if (!seenActive) {
        seenActive = true;
        out.push({ key, state: 'active', retiredAt: null });
      } else {
        // Keys come newest first, so an active one has been seen, and its activation recorded.
        const retiredAt = successorActivation;
        if (!retiredAt) throw new Error('a retired key without a successor');
        const keep = (key.kind === 'signing' ? retention.signingSeconds : retention.cookieSeconds) * 1000;
        out.push({ key, state: now.getTime() - retiredAt.getTime() > keep ? 'expired' : 'retired', retiredAt });
      }
      if (key.activates_at <= now) successorActivation = key.activates_at;
    }
  }
  return out;
}

/** The next moment some key changes state (a pending key activates), if any. */
export function nextActivation(keys: readonly TimedKey[], now: Date): Date | null {
  const pending = keys.map((k) => k.activates_at).filter((t) => t > now);
  return pending.length ? new Date(Math.min(...pending.map((t) => t.getTime()))) : null;
}
