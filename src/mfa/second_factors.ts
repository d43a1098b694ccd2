import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Db } from '../db/db.js';
import { loadOnce } from '../core/load_once.js';
import { loadServerSecret } from '../storage/server_secrets.js';
import type { SecretBox } from './secret_box.js';

// A user's second factors: an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30 s, one step
// of clock skew either way) and ten single-use recovery codes. Passkeys (another module) add
// theirs to FACTOR_KINDS below: "does this user have a second factor" and `users mfa reset` go
// through that list only.
//
// A TOTP code is accepted once: the step it matched must be later than the last one accepted,
// and the UPDATE that records it is the check (two parallel requests with one code: one wins).
// Recovery codes are stored as HMAC-SHA-256 under a server secret: they are 50 random bits, so a
// fast keyed hash is as good as a slow one, and the table alone gives nothing away.

// The QR code library is imported for the first enrolment, not at start (core/load_once.ts).
const qrcode = loadOnce(async () => (await import('qrcode')).default);

const PERIOD = 30;
const DIGITS = 6;
const RECOVERY_CODE_COUNT = 10;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i
const RECOVERY_CODE_LENGTH = 10;

/** One kind of second factor, as far as counting and removing go. */
export interface FactorKind {
  /** `totp`, `recovery_codes`, `passkeys` … (audit details of `mfa.reset`) */
  name: string;
  /**
   * Whether having one is "having a second factor" (asks for it at sign-in). Recovery codes are
   * not: they stand in for another factor, they are not one of their own.
   */
  isFactor: boolean;
  /** how many the user has (confirmed ones only) */
  count(db: Pick<Db, 'query'>, sub: string): Promise<number>;
  /** the same count as an SQL expression of the sub in `$1`: every kind is counted in one statement (countAll) */
  countSql: string;
  /** removes them all; returns how many went */
  remove(db: Pick<Db, 'query'>, sub: string): Promise<number>;
}

const TOTP_KIND: FactorKind = {
  name: 'totp',
  isFactor: true,
  count: async (db, sub) => (await db.query('SELECT 1 FROM mfa_totp WHERE sub = $1 AND confirmed_at IS NOT NULL', [sub])).rowCount,
  countSql: '(SELECT count(*) FROM mfa_totp WHERE sub = $1 AND confirmed_at IS NOT NULL)',
  remove: async (db, sub) => (await db.query('DELETE FROM mfa_totp WHERE sub = $1', [sub])).rowCount,
};

const RECOVERY_CODES_KIND: FactorKind = {
  name: 'recovery_codes',
  isFactor: false,
  count: async (db, sub) => (await db.query('SELECT 1 FROM mfa_recovery_codes WHERE sub = $1 AND used_at IS NULL', [sub])).rowCount,
  countSql: '(SELECT count(*) FROM mfa_recovery_codes WHERE sub = $1 AND used_at IS NULL)',
  remove: async (db, sub) => (await db.query('DELETE FROM mfa_recovery_codes WHERE sub = $1', [sub])).rowCount,
};

/** Passkeys (migrations/0012_passkeys.sql, managed by storage/passkeys_repo.ts): each one is a factor. */
const PASSKEYS_KIND: FactorKind = {
  name: 'passkeys',
  isFactor: true,
  count: async (db, sub) => (await db.query('SELECT 1 FROM webauthn_credentials WHERE sub = $1', [sub])).rowCount,
  countSql: '(SELECT count(*) FROM webauthn_credentials WHERE sub = $1)',
  remove: async (db, sub) => (await db.query('DELETE FROM webauthn_credentials WHERE sub = $1', [sub])).rowCount,
};

/** Every kind of second factor. */
export const FACTOR_KINDS: FactorKind[] = [TOTP_KIND, RECOVERY_CODES_KIND, PASSKEYS_KIND];

/** Whether the user has a second factor (any FACTOR_KINDS entry with isFactor). */
export async function hasSecondFactor(db: Pick<Db, 'query'>, sub: string): Promise<boolean> {
  for (const kind of FACTOR_KINDS) if (kind.isFactor && (await kind.count(db, sub)) > 0) return true;
  return false;
}

// Every kind counted in one statement: a sign-in asks for all of them at once, after the password.
const COUNT_ALL_SQL = `SELECT ${FACTOR_KINDS.map((kind, i) => `${kind.countSql}::int AS k${i}`).join(', ')}`;

/** How many of each FACTOR_KINDS entry the user has (by name), in one round trip. */
export async function countAllFactors(db: Pick<Db, 'query'>, sub: string): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, unknown>>({ name: 'mfa_count_all', text: COUNT_ALL_SQL, values: [sub] });
  const row = rows[0] ?? {};
  return Object.fromEntries(FACTOR_KINDS.map((kind, i) => [kind.name, Number(row[`k${i}`] ?? 0)]));
}

/** Removes every second factor of the user (`users mfa reset`); returns how many of each kind went. */
export async function removeAllFactors(db: Pick<Db, 'query'>, sub: string): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const kind of FACTOR_KINDS) removed[kind.name] = await kind.remove(db, sub);
  return removed;
}

interface TotpSetup {
  /** base32, to type into an app */
  secret: string;
  /** otpauth:// URI */
  uri: string;
  /** the URI as a QR code: SVG markup, put inline into the page */
  qrSvg: string;
}

type CodeCheck = { ok: true; method: 'totp' | 'recovery_code'; recoveryCodesLeft?: number } | { ok: false };

interface FactorStatus {
  totp: boolean;
  recoveryCodesLeft: number;
  /** the user has a second factor (of any kind, passkeys included) */
  any: boolean;
}

export interface SecondFactors {
  status(sub: string): Promise<FactorStatus>;
  /** a new (unconfirmed) secret for the user, replacing an unconfirmed one; undefined when one is confirmed */
  startTotp(sub: string, accountName: string): Promise<TotpSetup | undefined>;
  /** the unconfirmed secret being set up, to show again (after a wrong code) */
  pendingTotp(sub: string, accountName: string): Promise<TotpSetup | undefined>;
  /** confirms the pending secret with a code from the app; the code's step counts as used */
  confirmTotp(sub: string, code: string): Promise<boolean>;
  removeTotp(sub: string): Promise<boolean>;
  /** a TOTP code or a recovery code, each accepted once */
  verify(sub: string, code: string): Promise<CodeCheck>;
  /** ten new codes (the old ones stop working); shown once, stored hashed */
  regenerateRecoveryCodes(sub: string): Promise<string[]>;
}

const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');
const isTotpCode = (code: string) => new RegExp(`^\\d{${DIGITS}}$`).test(code);

function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i += 1) code += RECOVERY_ALPHABET.charAt(randomInt(RECOVERY_ALPHABET.length));
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

export async function createSecondFactors(db: Db, box: SecretBox, issuerName: string, now: () => number = () => Date.now()): Promise<SecondFactors> {
  const recoveryKey = await loadServerSecret(db, 'recovery_codes');
  const hashRecovery = (sub: string, code: string) =>
    createHmac('sha256', recoveryKey)
      .update(`${sub}\0${normalizeRecoveryCode(code)}`)
      .digest();

  const totpFor = (secret: Buffer, accountName: string) =>
    new TOTP({ issuer: issuerName, label: accountName, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, secret: Secret.fromHex(secret.toString('hex')) });

  async function describe(secret: Buffer, accountName: string): Promise<TotpSetup> {
    const totp = totpFor(secret, accountName);
    const uri = totp.toString();
    const svg = await (await qrcode()).toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    // Inline SVG markup (qrcode's own output: paths, no script), not a data: image: the pages'
    // CSP lets images come only from here and the configured logos (http/security_headers.ts).
    return { secret: totp.secret.base32, uri, qrSvg: svg };
  }

  async function readTotp(sub: string, confirmed: boolean) {
    const { rows } = await db.query<{ key_id: string; secret_sealed: Buffer; last_used_step: string | null }>(
      `SELECT key_id, secret_sealed, last_used_step FROM mfa_totp WHERE sub = $1 AND (confirmed_at IS NOT NULL) = $2`,
      [sub, confirmed],
    );
    const row = rows[0];
    if (!row) return undefined;
    const secret = box.open(row.key_id, row.secret_sealed, sub);
    return secret ? { secret, keyId: row.key_id } : undefined;
  }

  /** The step (counter) a code matches, within one step either way; undefined for none. */
  function matchingStep(secret: Buffer, code: string): number | undefined {
    if (!isTotpCode(code)) return undefined;
    const timestamp = now();
    const delta = totpFor(secret, '').validate({ token: code, timestamp, window: 1 });
    return delta === null ? undefined : Math.floor(timestamp / 1000 / PERIOD) + delta;
  }

  return {
    async status(sub) {
      const counts = await countAllFactors(db, sub);
      const any = FACTOR_KINDS.some((kind) => kind.isFactor && (counts[kind.name] ?? 0) > 0);
      return { totp: (counts[TOTP_KIND.name] ?? 0) > 0, recoveryCodesLeft: counts[RECOVERY_CODES_KIND.name] ?? 0, any };
    },

    async startTotp(sub, accountName) {
      const secret = randomBytes(20);
      const { keyId, sealed } = box.seal(secret, sub);
      const { rowCount } = await db.query(
        `INSERT INTO mfa_totp (sub, key_id, secret_sealed) VALUES ($1, $2, $3)
         ON CONFLICT (sub) DO UPDATE SET key_id = EXCLUDED.key_id, secret_sealed = EXCLUDED.secret_sealed, created_at = now()
         WHERE mfa_totp.confirmed_at IS NULL`,
        [sub, keyId, sealed],
      );
      return rowCount ? describe(secret, accountName) : undefined;
    },

    async pendingTotp(sub, accountName) {
      const pending = await readTotp(sub, false);
      return pending ? describe(pending.secret, accountName) : undefined;
    },

    async confirmTotp(sub, code) {
      const pending = await readTotp(sub, false);
      const step = pending && matchingStep(pending.secret, code.trim());
      if (step === undefined) return false;
      const { rowCount } = await db.query(`UPDATE mfa_totp SET confirmed_at = now(), last_used_step = $2 WHERE sub = $1 AND confirmed_at IS NULL`, [sub, step]);
      return rowCount > 0;
    },

    async removeTotp(sub) {
      return (await db.query('DELETE FROM mfa_totp WHERE sub = $1', [sub])).rowCount > 0;
    },

    async verify(sub, raw) {
      const code = raw.trim().slice(0, 64);
      if (isTotpCode(code)) {
        const totp = await readTotp(sub, true);
        const step = totp && matchingStep(totp.secret, code);
        if (!totp || step === undefined) return { ok: false };
        // The check and the record at once: a step at or before the last one used is refused.
        const { rowCount } = await db.query(
          `UPDATE mfa_totp SET last_used_step = $2 WHERE sub = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`,
          [sub, step],
        );
        if (!rowCount) return { ok: false };
        if (totp.keyId !== box.currentKeyId) {
          // Sealed with an older key: seal it again with the current one (rotation).
          const { keyId, sealed } = box.seal(totp.secret, sub);
          await db.query('UPDATE mfa_totp SET key_id = $2, secret_sealed = $3 WHERE sub = $1', [sub, keyId, sealed]);
        }
        return { ok: true, method: 'totp' };
      }
      if (normalizeRecoveryCode(code).length !== RECOVERY_CODE_LENGTH) return { ok: false };
      const { rowCount } = await db.query(`UPDATE mfa_recovery_codes SET used_at = now() WHERE sub = $1 AND code_hash = $2 AND used_at IS NULL`, [
        sub,
        hashRecovery(sub, code),
      ]);
      if (!rowCount) return { ok: false };
      return { ok: true, method: 'recovery_code', recoveryCodesLeft: await RECOVERY_CODES_KIND.count(db, sub) };
    },

    async regenerateRecoveryCodes(sub) {
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      await db.transaction(async (client) => {
        await client.query('DELETE FROM mfa_recovery_codes WHERE sub = $1', [sub]);
        for (const code of codes) await client.query('INSERT INTO mfa_recovery_codes (sub, code_hash) VALUES ($1, $2)', [sub, hashRecovery(sub, code)]);
      });
      return codes;
    },
  };
}
