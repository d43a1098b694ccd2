import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { PasskeysRepo, StoredPasskey } from '../storage/passkeys_repo.js';
import { hasUnstorableText } from '../core/nul_characters.js';
import { loadOnce } from '../core/load_once.js';

// The two WebAuthn ceremonies (@simplewebauthn/server), with Gatehouse's rules:
// - the relying-party id is ISSUER's hostname and the only accepted origin is ISSUER's origin;
// - user verification is required: a passkey is something the user has, unlocked by something
//   they know or are, which is why a passkey alone signs in;
// - every challenge is single use, lives CHALLENGE_TTL_SECONDS, and is bound to the session or
//   interaction that asked for it (passkeys_repo.ts);
// - registration asks for a discoverable credential (a passkey), without attestation.
// Whatever the browser sends is untrusted: shapes are checked with zod, and a library refusal
// becomes a `refused` outcome with a reason, never an exception for the caller to turn into a 500.
// The library (with its ASN.1 and X.509 dependencies, ≈ 4 MB of heap) is imported at the first
// ceremony, not at start (core/load_once.ts).

const webauthn = loadOnce(() => import('@simplewebauthn/server'));

const CHALLENGE_TTL_SECONDS = 300;
const TIMEOUT_MS = 120_000;
const MAX_PASSKEY_NAME = 64;
const MAX_PASSKEYS = 20;

const PASSKEY_PURPOSES = { register: 'passkey/register', signIn: 'passkey/sign-in' } as const;

/** RFC 8176: a synced (multi-device, backed-up) passkey is a software key, a device-bound one hardware. */
export const amrOf = (passkey: Pick<StoredPasskey, 'deviceType' | 'backedUp'>): 'hwk' | 'swk' =>
  passkey.deviceType === 'multiDevice' || passkey.backedUp ? 'swk' : 'hwk';

const b64url = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[A-Za-z0-9_-]+={0,2}$/);
const registrationSchema = z
  .object({
    id: b64url,
    rawId: b64url,
    type: z.literal('public-key'),
    response: z
      .object({
        clientDataJSON: b64url,
        attestationObject: z
          .string()
          .min(1)
          .max(16384)
          .regex(/^[A-Za-z0-9_-]+={0,2}$/),
        transports: z.array(z.string().max(32)).max(10).optional(),
      })
      .loose(),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.string().max(32).optional(),
  })
  .loose();
const authenticationSchema = z
  .object({
    id: b64url,
    rawId: b64url,
    type: z.literal('public-key'),
    response: z
      .object({
        clientDataJSON: b64url,
        authenticatorData: b64url,
        signature: b64url,
        userHandle: b64url.optional(),
      })
      .loose(),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.string().max(32).optional(),
  })
  .loose();

export type RefusalReason = 'malformed' | 'expired_challenge' | 'unknown_credential' | 'wrong_account' | 'not_verified' | 'already_registered' | 'too_many';

export type Refused = { ok: false; reason: RefusalReason; passkey?: StoredPasskey | undefined };

/** The challenge a response answers, from its clientDataJSON (still to be verified). */
function challengeOf(clientDataJSON: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as unknown;
    const challenge = (parsed as { challenge?: unknown }).challenge;
    return typeof challenge === 'string' && challenge.length <= 512 ? challenge : undefined;
  } catch {
    return undefined;
  }
}

/** A passkey's name as the user typed it: trimmed, control characters out, at most MAX_PASSKEY_NAME. */
export function cleanPasskeyName(name: unknown): string | undefined {
  if (typeof name !== 'string' || hasUnstorableText(name)) return undefined;
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return cleaned && cleaned.length <= MAX_PASSKEY_NAME ? cleaned : undefined;
}

export interface PasskeyCeremoniesDeps {
  issuer: string;
  rpName: string;
  passkeys: PasskeysRepo;
}

export type PasskeyCeremonies = ReturnType<typeof createPasskeyCeremonies>;

export function createPasskeyCeremonies({ issuer, rpName, passkeys }: PasskeyCeremoniesDeps) {
  const issuerUrl = new URL(issuer);
  const rpID = issuerUrl.hostname;
  const expectedOrigin = issuerUrl.origin;

  return {
    rpID,
    expectedOrigin,

    /** Options for adding a passkey to `user`, bound to `binding` (the /account session's uid). */
    async registrationOptions(
      user: { sub: string; username: string; name?: string | null | undefined },
      binding: string,
    ): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await passkeys.list(user.sub);
      const { generateRegistrationOptions } = await webauthn();
      const options = await generateRegistrationOptions({
        rpName,
        rpID,
        userName: user.username,
        userDisplayName: user.name ?? user.username,
        // The user handle is the account's sub: what a discoverable credential hands back at sign-in.
        userID: new TextEncoder().encode(user.sub),
        attestationType: 'none',
        timeout: TIMEOUT_MS,
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
      await passkeys.saveChallenge({
        challenge: options.challenge,
        purpose: PASSKEY_PURPOSES.register,
        binding,
        sub: user.sub,
        ttlSeconds: CHALLENGE_TTL_SECONDS,
      });
      return options;
    },

    /** Checks a registration response and stores the passkey under `name`. */
    async register(sub: string, binding: string, body: unknown, name: string): Promise<{ ok: true; passkey: StoredPasskey } | Refused> {
      const parsed = registrationSchema.safeParse(body);
      if (!parsed.success) return { ok: false, reason: 'malformed' };
      const response = parsed.data as unknown as RegistrationResponseJSON;
      const challenge = challengeOf(response.response.clientDataJSON);
      const issued = challenge ? await passkeys.takeChallenge(challenge, PASSKEY_PURPOSES.register, binding) : undefined;
      if (!challenge || !issued) return { ok: false, reason: 'expired_challenge' };
      if (issued.sub !== sub) return { ok: false, reason: 'wrong_account' };
      if ((await passkeys.count(sub)) >= MAX_PASSKEYS) return { ok: false, reason: 'too_many' };
      const { verifyRegistrationResponse } = await webauthn();
      let verification;
      try {
        verification = await verifyRegistrationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin,
          expectedRPID: rpID,
          requireUserVerification: true,
        });
      } catch {
        return { ok: false, reason: 'not_verified' };
      }
      if (!verification.verified) return { ok: false, reason: 'not_verified' };
      const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
      const passkey = {
        id: credential.id,
        sub,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: (credential.transports ?? []).slice(0, 10),
        name,
        deviceType: credentialDeviceType,
        backedUp: credentialBackedUp,
      };
      if (!(await passkeys.add(passkey))) return { ok: false, reason: 'already_registered' };
      const stored = await passkeys.find(passkey.id);
      return stored ? { ok: true, passkey: stored } : { ok: false, reason: 'unknown_credential' };
    },

    /**
     * Options for signing in, bound to the interaction. Without `sub` any discoverable passkey
     * may answer (the passkey button, conditional UI); with it only that account's passkeys
     * (the second factor after the password).
     */
    async authenticationOptions(binding: string, sub?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = sub ? await passkeys.list(sub) : [];
      const { generateAuthenticationOptions } = await webauthn();
      const options = await generateAuthenticationOptions({
        rpID,
        timeout: TIMEOUT_MS,
        userVerification: 'required',
        ...(sub ? { allowCredentials: allow.map((p) => ({ id: p.id, transports: p.transports as never })) } : {}),
      });
      await passkeys.saveChallenge({ challenge: options.challenge, purpose: PASSKEY_PURPOSES.signIn, binding, sub, ttlSeconds: CHALLENGE_TTL_SECONDS });
      return options;
    },

    /** The passkey a sign-in response names (to throttle by its account before verifying). */
    async credentialOf(body: unknown): Promise<StoredPasskey | undefined> {
      const parsed = authenticationSchema.safeParse(body);
      return parsed.success ? passkeys.find(parsed.data.id) : undefined;
    },

    /**
     * Checks a sign-in response: a live challenge of this interaction, a known passkey (of the
     * challenge's account when it named one), the right origin and RP id, user verification, a
     * valid signature and a counter that moved on. Records the use.
     */
    async authenticate(binding: string, body: unknown): Promise<{ ok: true; passkey: StoredPasskey; amr: 'hwk' | 'swk' } | Refused> {
      const parsed = authenticationSchema.safeParse(body);
      if (!parsed.success) return { ok: false, reason: 'malformed' };
      const response = parsed.data as unknown as AuthenticationResponseJSON;
      const challenge = challengeOf(response.response.clientDataJSON);
      const issued = challenge ? await passkeys.takeChallenge(challenge, PASSKEY_PURPOSES.signIn, binding) : undefined;
      const passkey = await passkeys.find(response.id);
      if (!challenge || !issued) return { ok: false, reason: 'expired_challenge', passkey };
      if (!passkey) return { ok: false, reason: 'unknown_credential' };
      if (issued.sub && issued.sub !== passkey.sub) return { ok: false, reason: 'wrong_account', passkey };
      // A discoverable credential names its account (the user handle): it must be this passkey's.
      const handle = response.response.userHandle;
      if (handle && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.sub) return { ok: false, reason: 'wrong_account', passkey };
      const { verifyAuthenticationResponse } = await webauthn();
      let verification;
      try {
        verification = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin,
          expectedRPID: rpID,
          requireUserVerification: true,
          credential: {
            id: passkey.id,
            publicKey: passkey.publicKey,
            counter: passkey.counter,
            transports: passkey.transports,
          },
        });
      } catch {
        return { ok: false, reason: 'not_verified', passkey };
      }
      if (!verification.verified) return { ok: false, reason: 'not_verified', passkey };
      const info = verification.authenticationInfo;
      await passkeys.markUsed(passkey.id, info.newCounter);
      const used = { ...passkey, deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp };
      return { ok: true, passkey: used, amr: amrOf(used) };
    },
  };
}
