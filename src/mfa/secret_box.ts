import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/db.js';
import { loadServerSecret } from '../storage/server_secrets.js';

// Sealing second-factor secrets at rest: AES-256-GCM with a 12-byte random nonce, the owner's
// sub as associated data (a sealed secret copied onto another user's row does not open). The
// key never lives in the row: it is MFA_ENCRYPTION_KEY when set, else the `mfa_encryption`
// server secret (one per database, created on first use). Each sealed value is stored with the
// id of its key (a hash of the key, never the key), so older keys given in
// MFA_ENCRYPTION_KEY_PREVIOUS (and the database key, always) still open what they sealed; a
// secret opened with an older key is sealed again with the current one on its next use.

export interface SecretBox {
  /** the id of the key new values are sealed with */
  readonly currentKeyId: string;
  seal(plain: Buffer, owner: string): { keyId: string; sealed: Buffer };
  /** undefined when no known key opens it (a key was dropped) or it was tampered with */
  open(keyId: string, sealed: Buffer, owner: string): Buffer | undefined;
}

export const keyIdOf = (key: Buffer) => createHash('sha256').update('gatehouse mfa key id\0').update(key).digest('hex').slice(0, 16);

function createSecretBox(current: Buffer, older: readonly Buffer[] = []): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...older]) if (!keys.has(keyIdOf(key))) keys.set(keyIdOf(key), key);
  const currentKeyId = keyIdOf(current);
  return {
    currentKeyId,
    seal(plain, owner) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, nonce);
      cipher.setAAD(Buffer.from(owner));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return { keyId: currentKeyId, sealed: Buffer.concat([nonce, cipher.getAuthTag(), body]) };
    },
    open(keyId, sealed, owner) {
      const key = keys.get(keyId);
      if (!key || sealed.length < 28) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
        decipher.setAAD(Buffer.from(owner));
        decipher.setAuthTag(sealed.subarray(12, 28));
        return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
      } catch {
        return undefined;
      }
    },
  };
}

/** The box of this deployment: the env keys first, the database's key always able to open. */
export async function loadSecretBox(db: Pick<Db, 'query'>, keys: { current?: Buffer | undefined; previous: readonly Buffer[] }): Promise<SecretBox> {
  const databaseKey = await loadServerSecret(db, 'mfa_encryption');
  return createSecretBox(keys.current ?? databaseKey, [...keys.previous, databaseKey]);
}
