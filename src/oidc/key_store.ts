import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'oidc-provider';
import type { Db } from '../db/db.js';

// Token signing keys and cookie keys, kept in the database so every restart (and every
// instance) signs with the same keys. Generated on first start.

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const generate = promisify(generateKeyPair);
const KEYS_LOCK = 0x6b657973; // "keys"

export interface KeyRow {
  kid: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  state: 'active' | 'retired';
  created_at: Date;
  retired_at: Date | null;
}

export interface LoadedKeys {
  /** private JWKs, active keys first: oidc-provider signs with the first key of each alg */
  jwks: { keys: JWK[] };
  /** active cookie key first: it signs, the rest still verify */
  cookieKeys: string[];
}

const newKid = () => randomBytes(12).toString('base64url');

export async function newSigningKey(alg: SigningAlg): Promise<{ kid: string; jwk: JWK }> {
  const { privateKey } =
    alg === 'RS256'
      ? await generate('rsa', { modulusLength: 2048 })
      : await generate('ec', { namedCurve: 'P-256' });
  const kid = newKid();
  return { kid, jwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' } };
}

type Queryable = Pick<Db, 'query'>;

async function insertSigningKey(db: Queryable, alg: SigningAlg): Promise<string> {
  const { kid, jwk } = await newSigningKey(alg);
  await db.query(`INSERT INTO keys (kid, kind, alg, material) VALUES ($1, 'signing', $2, $3)`, [kid, alg, jwk]);
  return kid;
}

async function insertCookieKey(db: Queryable): Promise<string> {
  const kid = newKid();
  await db.query(`INSERT INTO keys (kid, kind, material) VALUES ($1, 'cookie', $2)`, [kid, JSON.stringify(randomBytes(32).toString('base64url'))]);
  return kid;
}

async function withKeysLock<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
    const tx: Queryable = {
      query: async (text, values) => {
        const r = await client.query(text as string, values);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      },
    };
    return fn(tx);
  });
}

/** Creates whatever active key is missing (one signing key per alg, one cookie key). */
export async function ensureKeys(db: Db): Promise<string[]> {
  return withKeysLock(db, async (tx) => {
    const { rows } = await tx.query<{ kind: string; alg: string | null }>(
      `SELECT kind, alg FROM keys WHERE state = 'active'`,
    );
    const created: string[] = [];
    for (const alg of SIGNING_ALGS) {
      if (!rows.some((r) => r.kind === 'signing' && r.alg === alg)) created.push(await insertSigningKey(tx, alg));
    }
    if (!rows.some((r) => r.kind === 'cookie')) created.push(await insertCookieKey(tx));
    return created;
  });
}

/** Makes a new active key of each kind and retires the old ones (still published / accepted). */
export async function rotateKeys(db: Db): Promise<string[]> {
  return withKeysLock(db, async (tx) => {
    await tx.query(`UPDATE keys SET state = 'retired', retired_at = now() WHERE state = 'active'`);
    const created: string[] = [];
    for (const alg of SIGNING_ALGS) created.push(await insertSigningKey(tx, alg));
    created.push(await insertCookieKey(tx));
    return created;
  });
}

export async function listKeys(db: Db): Promise<KeyRow[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT kid, kind, alg, state, created_at, retired_at FROM keys
     ORDER BY kind, state, created_at DESC`,
  );
  return rows;
}

export async function loadKeys(db: Db): Promise<LoadedKeys> {
  const { rows } = await db.query<{ kind: string; material: unknown }>(
    `SELECT kind, material FROM keys ORDER BY (state = 'active') DESC, created_at DESC`,
  );
  return {
    jwks: { keys: rows.filter((r) => r.kind === 'signing').map((r) => r.material as JWK) },
    cookieKeys: rows.filter((r) => r.kind === 'cookie').map((r) => r.material as string),
  };
}
