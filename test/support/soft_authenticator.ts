import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

// A WebAuthn authenticator in software (ES256, "none" attestation), for server-side tests that
// need to craft responses a browser never would: another origin, a forged signature, a replay.
// Chromium's virtual authenticator covers the honest path (test/browser/passkeys.test.ts).

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const b64url = (data: Uint8Array) => Buffer.from(data).toString('base64url');
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  userHandle: string;
  counter: number;
}

export interface Tamper {
  origin?: string;
  rpId?: string;
  type?: string;
  /** sign with this key instead of the credential's */
  signWith?: KeyObject;
  userVerified?: boolean;
  /** a synced (backed-up) passkey */
  synced?: boolean;
}

export function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

function coseKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' });
  const map = new Map<number, number | Uint8Array>([
    [1, 2],
    [3, -7],
    [-1, 1],
    [-2, Buffer.from(jwk.x!, 'base64url')],
    [-3, Buffer.from(jwk.y!, 'base64url')],
  ]);
  return isoCBOR.encode(map);
}

const clientData = (type: string, challenge: string, origin: string) => Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

/** A registration response (as @simplewebauthn/browser's startRegistration returns it) for `options`. */
export function register(
  options: { challenge: string; rp: { id?: string }; user: { id: string } },
  origin: string,
  tamper: Tamper = {},
): { response: Record<string, unknown>; credential: SoftCredential } {
  const privateKey = newKey();
  const id = randomBytes(16);
  const rpId = tamper.rpId ?? options.rp.id ?? new URL(origin).hostname;
  const flags = FLAG_UP | (tamper.userVerified === false ? 0 : FLAG_UV) | FLAG_AT | (tamper.synced ? FLAG_BE | FLAG_BS : 0);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(id.length);
  const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), u32(0), Buffer.alloc(16), idLength, id, coseKey(privateKey)]);
  const attestationObject = isoCBOR.encode(
    new Map<string, unknown>([
      ['fmt', 'none'],
      ['attStmt', new Map()],
      ['authData', authData],
    ]) as never,
  );
  const clientDataJSON = clientData(tamper.type ?? 'webauthn.create', options.challenge, tamper.origin ?? origin);
  return {
    response: {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    },
    credential: { id: b64url(id), privateKey, userHandle: options.user.id, counter: 0 },
  };
}

/** An authentication response (startAuthentication's) from `credential` for `options`. */
export function assert(
  credential: SoftCredential,
  options: { challenge: string; rpId?: string },
  origin: string,
  tamper: Tamper = {},
): Record<string, unknown> {
  credential.counter += 1;
  const rpId = tamper.rpId ?? options.rpId ?? new URL(origin).hostname;
  const flags = FLAG_UP | (tamper.userVerified === false ? 0 : FLAG_UV) | (tamper.synced ? FLAG_BE | FLAG_BS : 0);
  const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), u32(credential.counter)]);
  const clientDataJSON = clientData(tamper.type ?? 'webauthn.get', options.challenge, tamper.origin ?? origin);
  const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), { key: tamper.signWith ?? credential.privateKey, dsaEncoding: 'der' });
  return {
    id: credential.id,
    rawId: credential.id,
    type: 'public-key',
    response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: credential.userHandle },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}
