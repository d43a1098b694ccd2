import { createHash } from 'node:crypto';
import type { Db } from '../db/db.js';

// The passkeys table and the WebAuthn challenges (migrations/0012_passkeys.sql). Every read and
// change of a credential is scoped to its account, so an id of someone else's passkey renames or
// removes nothing. A challenge is taken (deleted) by the same statement that checks it: it can
// be used once, only for what and for whom it was issued, and only while it lives.

type DeviceType = 'singleDevice' | 'multiDevice';

export interface StoredPasskey {
  id: string;
  sub: string;
  publicKey: Uint8Array<ArrayBuffer>;
  counter: number;
  transports: string[];
  name: string;
  deviceType: DeviceType;
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface NewPasskey {
  id: string;
  sub: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  name: string;
  deviceType: DeviceType;
  backedUp: boolean;
}

interface Row {
  id: string;
  sub: string;
  public_key: Buffer;
  counter: string;
  transports: string[];
  name: string;
  device_type: DeviceType;
  backed_up: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = 'id, sub, public_key, counter, transports, name, device_type, backed_up, created_at, last_used_at';

const toPasskey = (row: Row): StoredPasskey => ({
  id: row.id,
  sub: row.sub,
  publicKey: new Uint8Array(row.public_key),
  counter: Number(row.counter),
  transports: row.transports,
  name: row.name,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const hashChallenge = (challenge: string) => createHash('sha256').update(challenge).digest('base64url');

export interface PasskeysRepo {
  list(sub: string): Promise<StoredPasskey[]>;
  count(sub: string): Promise<number>;
  find(id: string): Promise<StoredPasskey | undefined>;
  /** false when the credential id is already registered (to anyone) */
  add(passkey: NewPasskey): Promise<boolean>;
  rename(sub: string, id: string, name: string): Promise<boolean>;
  remove(sub: string, id: string): Promise<boolean>;
  /** every passkey of the account; returns how many */
  removeAll(sub: string): Promise<number>;
  /** after a verified assertion: the new signature counter, and when */
  markUsed(id: string, counter: number): Promise<void>;
  saveChallenge(challenge: { challenge: string; purpose: string; binding: string; sub?: string | undefined; ttlSeconds: number }): Promise<void>;
  /** Deletes the challenge and says whether it was live and issued for `purpose` and `binding` (and to whom). */
  takeChallenge(challenge: string, purpose: string, binding: string): Promise<{ sub: string | null } | undefined>;
}

export function createPasskeysRepo(db: Db): PasskeysRepo {
  return {
    async list(sub) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM webauthn_credentials WHERE sub = $1 ORDER BY created_at, id`, [sub]);
      return rows.map(toPasskey);
    },
    async count(sub) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM webauthn_credentials WHERE sub = $1', [sub]);
      return rows[0]?.n ?? 0;
    },
    async find(id) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM webauthn_credentials WHERE id = $1`, [id]);
      return rows[0] ? toPasskey(rows[0]) : undefined;
    },
    async add(p) {
      const { rowCount } = await db.query(
        `INSERT INTO webauthn_credentials (id, sub, public_key, counter, transports, name, device_type, backed_up)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [p.id, p.sub, Buffer.from(p.publicKey), p.counter, p.transports, p.name, p.deviceType, p.backedUp],
      );
      return rowCount === 1;
    },
    async rename(sub, id, name) {
      const { rowCount } = await db.query('UPDATE webauthn_credentials SET name = $3 WHERE sub = $1 AND id = $2', [sub, id, name]);
      return rowCount === 1;
    },
    async remove(sub, id) {
      const { rowCount } = await db.query('DELETE FROM webauthn_credentials WHERE sub = $1 AND id = $2', [sub, id]);
      return rowCount === 1;
    },
    async removeAll(sub) {
      const { rowCount } = await db.query('DELETE FROM webauthn_credentials WHERE sub = $1', [sub]);
      return rowCount;
    },
    async markUsed(id, counter) {
      await db.query('UPDATE webauthn_credentials SET counter = $2, last_used_at = now() WHERE id = $1', [id, counter]);
    },
    async saveChallenge({ challenge, purpose, binding, sub, ttlSeconds }) {
      // Challenges nobody answered are cleared as new ones are made (the index keeps it cheap).
      await db.query('DELETE FROM webauthn_challenges WHERE expires_at < now()');
      await db.query(
        `INSERT INTO webauthn_challenges (challenge_hash, purpose, binding, sub, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
        [hashChallenge(challenge), purpose, binding, sub ?? null, ttlSeconds],
      );
    },
    async takeChallenge(challenge, purpose, binding) {
      const { rows } = await db.query<{ purpose: string; binding: string; sub: string | null; live: boolean }>(
        'DELETE FROM webauthn_challenges WHERE challenge_hash = $1 RETURNING purpose, binding, sub, expires_at > now() AS live',
        [hashChallenge(challenge)],
      );
      const row = rows[0];
      if (!row || !row.live || row.purpose !== purpose || row.binding !== binding) return undefined;
      return { sub: row.sub };
    },
  };
}
