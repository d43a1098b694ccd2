import { loadCommonPasswords } from './common_passwords.js';
import { normalizePassword } from './passwords.js';
import { loadStrengthEstimator, type StrengthHint } from './zxcvbn_strength.js';
import { translatorFor, type Translate } from '../i18n/catalogues.js';

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

/** What is wrong with a password, to be put in words (describePasswordProblem) in any language. */
export type PasswordProblem =
  { rule: 'too_short' | 'too_long'; limit: number } | { rule: 'invisible' | 'common' | 'context' } | { rule: 'guessable'; hint?: StrengthHint | undefined };

/**
 * The problem as a phrase that follows "The password …" (locales/*.json, `password_policy`):
 * in English for the CLI, in the page's language with the page's t().
 */
export function describePasswordProblem(problem: PasswordProblem, t: Translate = translatorFor('en').t): string {
  switch (problem.rule) {
    case 'too_short':
    case 'too_long':
      return t(`password_policy.${problem.rule}`, { limit: problem.limit });
    case 'guessable': {
      const hint = problem.hint ? t(`password_policy.hints.${problem.hint.key}`) : '';
      // A hint the catalogue lacks (a newer zxcvbn) is left out rather than shown as a key.
      return hint && !hint.startsWith('password_policy.') ? t('password_policy.guessable_because', { hint }) : t('password_policy.guessable');
    }
    default:
      return t(`password_policy.${problem.rule}`);
  }
}

export const COMMON_PASSWORD = describePasswordProblem({ rule: 'common' });
export const INVISIBLE_PASSWORD = describePasswordProblem({ rule: 'invisible' });
export const GUESSABLE_PASSWORD = describePasswordProblem({ rule: 'guessable' });
export const CONTEXT_PASSWORD = describePasswordProblem({ rule: 'context' });

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

function lengthProblem(password: string): PasswordProblem | null {
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points on purpose: NIST counts each as a character
  const length = [...normalizePassword(password)].length;
  if (length < MIN_PASSWORD_LENGTH) return { rule: 'too_short', limit: MIN_PASSWORD_LENGTH };
  if (length > MAX_PASSWORD_LENGTH) return { rule: 'too_long', limit: MAX_PASSWORD_LENGTH };
  return null;
}

/** The length rule alone (sync, for the zod schemas); a message, or null when the length is fine. */
export function passwordLengthProblem(password: string): string | null {
  const problem = lengthProblem(password);
  return problem ? describePasswordProblem(problem) : null;
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
 * Why `password` may not be chosen, or null when it may. The common-password list and the
 * strength estimator are loaded on the first call.
 */
export async function findPasswordProblem(password: string, context: PasswordContext = {}): Promise<PasswordProblem | null> {
  const tooLongOrShort = lengthProblem(password);
  if (tooLongOrShort) return tooLongOrShort;

  const normalized = normalizePassword(password);
  if (normalized.replace(BLANK, '') === '') return { rule: 'invisible' };
  // Invisible characters are dropped before measuring: "a" and seven zero-width spaces is "a".
  const lowered = normalized.replace(IGNORABLE, '').toLowerCase();
  const undecorated = lowered.replace(DECORATION, '');
  const common = await loadCommonPasswords();
  if (common.has(lowered) || common.has(undecorated)) return { rule: 'common' };

  const words = contextWords(context);
  if (words.some((word) => lowered === word || undecorated === word)) return { rule: 'context' };

  const weakness = await (await loadStrengthEstimator())(normalized.replace(IGNORABLE, ''), words);
  return weakness === null ? null : { rule: 'guessable', hint: weakness };
}

/** findPasswordProblem in English words, to show after "password: " (the CLI). */
export async function passwordProblem(password: string, context: PasswordContext = {}): Promise<string | null> {
  const problem = await findPasswordProblem(password, context);
  return problem ? describePasswordProblem(problem) : null;
}
