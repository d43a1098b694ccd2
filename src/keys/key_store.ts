import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'oidc-provider';
import type { QueryConfig, QueryResultRow } from 'pg';
import type { Db } from '../db/db.js';
import { deriveKeyStates, nextActivation, type KeyState, type Retention, type TimedKey } from './key_states.js';

// Token signing keys and cookie keys, kept in the database so every restart (and every
// instance) signs with the same keys. Generated on first start; rotated by publishing the new
// key first and signing with it only after a propagation delay (see key_states.ts).

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const generate = promisify(generateKeyPair);
const KEYS_LOCK = 0x6b657973; // "keys"

interface KeyRow extends TimedKey {
  created_at: Date;
}

export interface ListedKey extends KeyRow {
  state: KeyState;
  retired_at: Date | null;
}

export interface LoadedKeys {
  /**
   * private JWKs: the active key of each alg signs; pending and retired keys carry
   * key_ops ["verify"], which keeps oidc-provider from signing with them while it still
   * publishes them and accepts what they signed
   */
  jwks: { keys: JWK[] };
  /** active cookie key first (it signs); pending and retired ones still verify */
  cookieKeys: string[];
  /** changes whenever the set of keys or any key's state changes */
  fingerprint: string;
  /** when a pending key activates: reload then */
  nextChangeAt: Date | null;
}

/** Retired keys stay published this long by default: the longest token or cookie life. */
const DEFAULT_RETENTION: Retention = { signingSeconds: 24 * 3600, cookieSeconds: 14 * 24 * 3600 };

const newKid = () => randomBytes(12).toString('base64url');

export async function newSigningKey(alg: SigningAlg): Promise<{ kid: string; jwk: JWK }> {
  const { privateKey } = alg === 'RS256' ? await generate('rsa', { modulusLength: 2048 }) : await generate('ec', { namedCurve: 'P-256' });
  const kid = newKid();
  return { kid, jwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' } };
}

type Queryable = Pick<Db, 'query'>;

async function insertSigningKey(db: Queryable, alg: SigningAlg, activatesAt: Date | null): Promise<string> {
  const { kid, jwk } = await newSigningKey(alg);
  await db.query(`INSERT INTO keys (kid, kind, alg, material, activates_at) VALUES ($1, 'signing', $2, $3, coalesce($4, now()))`, [kid, alg, jwk, activatesAt]);
  return kid;
}

async function insertCookieKey(db: Queryable, activatesAt: Date | null): Promise<string> {
  const kid = newKid();
  await db.query(`INSERT INTO keys (kid, kind, material, activates_at) VALUES ($1, 'cookie', $2, coalesce($3, now()))`, [
    kid,
    JSON.stringify(randomBytes(32).toString('base64url')),
    activatesAt,
  ]);
  return kid;
}

/**
 * One new key of each kind, activating at `activatesAt`; except where no key of that kind (and
 * alg) signs yet, say a `keys rotate` on a fresh database: there the new key signs at once,
 * since a server would otherwise have nothing to sign with until then.
 */
async function insertKeySet(tx: Queryable, activatesAt: Date): Promise<{ kids: string[]; activatesAt: Date }> {
  const now = new Date();
  const { rows } = await tx.query<{ kind: string; alg: string | null }>('SELECT DISTINCT kind, alg FROM keys WHERE activates_at <= $1', [now]);
  const when = (kind: string, alg: string | null) => (rows.some((r) => r.kind === kind && r.alg === alg) ? activatesAt : now);
  const kids: string[] = [];
  for (const alg of SIGNING_ALGS) kids.push(await insertSigningKey(tx, alg, when('signing', alg)));
  kids.push(await insertCookieKey(tx, when('cookie', null)));
  return { kids, activatesAt: rows.length ? activatesAt : now };
}

async function withKeysLock<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
    const tx: Queryable = {
      query: async <R extends QueryResultRow>(text: string | QueryConfig, values?: unknown[]) => {
        const r = await client.query<R>(text as string, values);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      },
    };
    return fn(tx);
  });
}

/** Creates, active at once, whatever key is missing (one signing key per alg, one cookie key). */
export async function ensureKeys(db: Db): Promise<string[]> {
  return withKeysLock(db, async (tx) => {
    const { rows } = await tx.query<{ kind: string; alg: string | null }>('SELECT DISTINCT kind, alg FROM keys');
    const created: string[] = [];
    for (const alg of SIGNING_ALGS) {
      if (!rows.some((r) => r.kind === 'signing' && r.alg === alg)) created.push(await insertSigningKey(tx, alg, null));
    }
    if (!rows.some((r) => r.kind === 'cookie')) created.push(await insertCookieKey(tx, null));
    return created;
  });
}

/**
 * Adds a new key of each kind that starts signing after `propagationSeconds`; until then it is
 * only published. The current keys retire when the new ones activate.
 */
export async function rotateKeys(db: Db, propagationSeconds: number): Promise<{ kids: string[]; activatesAt: Date }> {
  return withKeysLock(db, (tx) => insertKeySet(tx, new Date(Date.now() + propagationSeconds * 1000)));
}

export interface Revocation {
  kid: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  /** the key that signs in its place, when the revoked key was signing */
  replacement: string | null;
}

/**
 * Deletes a key at once: it leaves the JWKS and the cookie keys, so whatever it signed stops
 * verifying (tokens, sessions). A kind (and alg) is never left without a signing key: when the
 * revoked key signs, the next pending key of its line activates now, or, with none pending, a new
 * key is made that signs at once. Null for an unknown kid.
 */
export async function revokeKey(db: Db, kid: string): Promise<Revocation | null> {
  return withKeysLock(db, async (tx) => {
    const { rows } = await tx.query<TimedKey>('SELECT kid, kind, alg, activates_at FROM keys');
    const states = deriveKeyStates(rows, new Date(), DEFAULT_RETENTION);
    const target = states.find((k) => k.key.kid === kid);
    if (!target) return null;
    const { kind, alg } = target.key;
    let replacement: string | null = null;
    if (target.state === 'active') {
      const pending = states
        .filter((k) => k.state === 'next' && k.key.kind === kind && k.key.alg === alg)
        .sort((a, b) => a.key.activates_at.getTime() - b.key.activates_at.getTime())[0];
      if (pending) {
        await tx.query('UPDATE keys SET activates_at = now() WHERE kid = $1', [pending.key.kid]);
        replacement = pending.key.kid;
      } else {
        replacement = kind === 'signing' ? await insertSigningKey(tx, alg as SigningAlg, null) : await insertCookieKey(tx, null);
      }
    }
    await tx.query('DELETE FROM keys WHERE kid = $1', [kid]);
    return { kid, kind, alg, replacement };
  });
}

async function keyRows(db: Pick<Db, 'query'>): Promise<(KeyRow & { material: unknown })[]> {
  const { rows } = await db.query<KeyRow & { material: unknown }>('SELECT kid, kind, alg, material, activates_at, created_at FROM keys');
  return rows;
}

export async function listKeys(db: Db, retention: Retention = DEFAULT_RETENTION, now = new Date()): Promise<ListedKey[]> {
  const rows = await keyRows(db);
  const order: Record<KeyState, number> = { next: 0, active: 1, retired: 2, expired: 3 };
  return deriveKeyStates(rows, now, retention)
    .map(({ key: { material: _secret, ...key }, state, retiredAt }) => ({ ...key, state, retired_at: retiredAt }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || (a.alg ?? '').localeCompare(b.alg ?? '') || order[a.state] - order[b.state]);
}

/** Deletes keys retired for longer than their retention. */
export async function pruneExpiredKeys(db: Db, retention: Retention = DEFAULT_RETENTION, now = new Date()): Promise<string[]> {
  const expired = deriveKeyStates(await keyRows(db), now, retention)
    .filter((k) => k.state === 'expired')
    .map((k) => k.key.kid);
  if (expired.length) await db.query('DELETE FROM keys WHERE kid = ANY($1)', [expired]);
  return expired;
}

export async function loadKeys(db: Pick<Db, 'query'>, retention: Retention = DEFAULT_RETENTION, now = new Date()): Promise<LoadedKeys> {
  const rows = await keyRows(db);
  const live = deriveKeyStates(rows, now, retention)
    .filter((k) => k.state !== 'expired')
    // active first, then pending, then retired (newest first within each)
    .sort((a, b) => rank(a.state) - rank(b.state) || b.key.activates_at.getTime() - a.key.activates_at.getTime());
  const jwks = live
    .filter((k) => k.key.kind === 'signing')
    .map(({ key, state }) => {
      const jwk = key.material as JWK;
      return state === 'active' ? jwk : { ...jwk, key_ops: ['verify'] };
    });
  return {
    jwks: { keys: jwks },
    cookieKeys: live.filter((k) => k.key.kind === 'cookie').map((k) => k.key.material as string),
    fingerprint: live
      .map((k) => `${k.key.kid}:${k.state}`)
      .sort()
      .join(','),
    nextChangeAt: nextActivation(rows, now),
  };
}

function rank(state: KeyState): number {
  return state === 'active' ? 0 : state === 'next' ? 1 : 2;
}

/**
 * Automatic rotation: rotates when the newest signing key was created more than `everyMs` ago.
 * Checked and done under the keys lock, so several instances checking at once rotate once.
 */
export async function rotateIfDue(db: Db, everyMs: number, propagationSeconds: number): Promise<string[]> {
  return withKeysLock(db, async (tx) => {
    const { rows } = await tx.query<{ newest: Date | null }>(`SELECT max(created_at) AS newest FROM keys WHERE kind = 'signing'`);
    const newest = rows[0]?.newest;
    if (newest && Date.now() - newest.getTime() < everyMs) return [];
    return (await insertKeySet(tx, new Date(Date.now() + propagationSeconds * 1000))).kids;
  });
}
