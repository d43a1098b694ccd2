import { loadCommonPasswords } from './common_passwords.js';
import { normalizePassword } from './passwords.js';
import { loadStrengthEstimator } from './zxcvbn_strength.js';

// What a new password must be (NIST SP 800-63B 5.1.1.2, memorized secrets), wherever one is
// chosen: `gatehouse users add` / `set-password` now, the account page's change-password form
// later. Length is what makes a password strong, so there are no composition rules (no "one
// digit and one symbol"); what is refused is too short, nothing visible (spaces, zero-width
// characters), or a password attackers try first: one from a breached-password list (also with
// digits and symbols stripped from its ends: "!password!", "Password1!"), the account's own name,
// or anything a guesser's model finds cheap (repeats, sequences, keyboard rows, dictionary words
// with predictable decoration), as estimated by zxcvbn (zxcvbn_strength.ts).
//
// Lengths count Unicode code points of the NFKC-normalised password (what is hashed), so an
// emoji or a CJK character is one character, as a person counts it.

const MIN_PASSWORD_LENGTH = 8;
// NIST asks to allow at least 64. 256 leaves room for any passphrase or password-manager output
// while bounding what one request can make the server normalise and feed to argon2 (whose first
// pass reads the whole input), so megabyte "passwords" are refused before they cost anything.
export const MAX_PASSWORD_LENGTH = 256;

export const COMMON_PASSWORD = 'is one of the most common passwords; choose another';
export const INVISIBLE_PASSWORD = 'must contain visible characters, not only spaces or invisible ones';
export const GUESSABLE_PASSWORD = 'is too easy to guess';
export const CONTEXT_PASSWORD = "must not be the username, the email address or the service's name (even with digits or symbols added)";

// Attackers try "alice2024!" right after "alice": digits, punctuation, symbols and spaces around
// a context word do not make it another password.
const DECORATION = /^[\p{N}\p{P}\p{S}\s]+|[\p{N}\p{P}\p{S}\s]+$/gu;
const SERVICE_NAME = 'gatehouse';
// Characters that show nothing: spaces of every kind, zero-width and other default-ignorable
// characters (ZWSP, ZWJ, BOM, Hangul fillers, variation selectors), controls, and the braille
// blank. Combining marks alone show nothing either.
const BLANK = /[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{M}\u2800]/gu;
// What adds no strength however many there are: everything in BLANK but ordinary spaces between
// words (a passphrase's spaces are part of it, and zxcvbn measures them).
const IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\u2800]/gu;

/** The length rule alone (sync, for the zod schemas); a message, or null when the length is fine. */
export function passwordLengthProblem(password: string): string | null {
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points on purpose: NIST counts each as a character
  const length = [...normalizePassword(password)].length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return null;
}

/** Who the password is for: it must not be made of these. */
export interface PasswordContext {
  username?: string | undefined;
  email?: string | null | undefined;
}

function contextWords({ username, email }: PasswordContext): string[] {
  const words = [SERVICE_NAME, username, email, email?.split('@')[0]];
  return words.filter((w): w is string => Boolean(w)).map((w) => w.normalize('NFKC').toLowerCase());
}

/**
 * Why `password` may not be chosen, as a message to show after "password: " — or null when it
 * may. The common-password list and the strength estimator are loaded on the first call.
 */
export async function passwordProblem(password: string, context: PasswordContext = {}): Promise<string | null> {
  const lengthProblem = passwordLengthProblem(password);
  if (lengthProblem) return lengthProblem;

  const normalized = normalizePassword(password);
  if (normalized.replace(BLANK, '') === '') return INVISIBLE_PASSWORD;
  // Invisible characters are dropped before measuring: "a" and seven zero-width spaces is "a".
  const lowered = normalized.replace(IGNORABLE, '').toLowerCase();
  const undecorated = lowered.replace(DECORATION, '');
  const common = await loadCommonPasswords();
  if (common.has(lowered) || common.has(undecorated)) return COMMON_PASSWORD;

  const words = contextWords(context);
  if (words.some((word) => lowered === word || undecorated === word)) return CONTEXT_PASSWORD;

  const weakness = await (await loadStrengthEstimator())(normalized.replace(IGNORABLE, ''), words);
  return weakness === null ? null : weakness ? `${GUESSABLE_PASSWORD}: ${weakness}` : GUESSABLE_PASSWORD;
}
