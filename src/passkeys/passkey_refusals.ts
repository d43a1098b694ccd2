import type { RefusalReason } from './passkey_ceremonies.js';

// What a person is told when a passkey is refused (shown by views/static/passkeys.js).
const MESSAGES: Record<RefusalReason, string> = {
  malformed: 'The passkey response could not be read. Try again.',
  expired_challenge: 'This passkey request has expired or was already used. Try again.',
  unknown_credential: 'This passkey is not registered here. Sign in with your password, then add it on your account page.',
  wrong_account: 'This passkey does not belong to this account.',
  not_verified: 'The passkey could not be verified. Try again.',
  already_registered: 'This passkey is already registered.',
  too_many: 'You have too many passkeys. Remove one first.',
};

export const passkeyRefusalMessage = (reason: RefusalReason): string => MESSAGES[reason];
