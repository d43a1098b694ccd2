import argon2 from 'argon2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COMMON_PASSWORD,
  CONTEXT_PASSWORD,
  GUESSABLE_PASSWORD,
  INVISIBLE_PASSWORD,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
} from '../../src/accounts/password_policy.js';
import { loadCommonPasswords } from '../../src/accounts/common_passwords.js';
import { checkPassword, hashIsOutdated, hashPassword } from '../../src/accounts/passwords.js';

// The rules a new password must meet (NIST SP 800-63B 5.1.1.2), and the normalisation and
// re-hash decisions of passwords.ts they rely on.

const ALICE = { username: 'alice', email: 'alice.liddell@example.test' };

describe('passwordProblem', () => {
  it('accepts a long passphrase with no digits, capitals or symbols (no composition rules)', async () => {
    expect(await passwordProblem('tea party at the mad hatter', ALICE)).toBeNull();
    expect(await passwordProblem('zqxjvkwp')).toBeNull();
  });

  it('counts code points of the NFKC form: 8 emoji or CJK characters are 8 characters', async () => {
    expect(await passwordProblem('🔑🚪🏠🌙⭐🍵🐇🎩')).toBeNull();
    expect(await passwordProblem('不思議の国のアリ')).toBeNull();
    // 7 code points, 14 UTF-16 units: too short, though .length says 14.
    expect('🔑🚪🏠🌙🍵🐇🎩'.length).toBe(14);
    expect(await passwordProblem('🔑🚪🏠🌙🍵🐇🎩')).toBe('must be at least 8 characters');
    // The "ﬃ" ligature is three letters once normalised: 6 + 3 = 9 characters.
    expect(await passwordProblem('qzxvjkﬃ')).toBeNull();
    expect(await passwordProblem('qzxvjk')).toBe('must be at least 8 characters');
  });

  it(`allows ${MAX_PASSWORD_LENGTH} characters and no more`, async () => {
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(6).slice(0, MAX_PASSWORD_LENGTH);
    expect(await passwordProblem(long)).toBeNull();
    expect(await passwordProblem(`${long}x`)).toBe(`must be at most ${MAX_PASSWORD_LENGTH} characters`);
    expect(await passwordProblem('correct horse battery staple '.repeat(3).slice(0, 64))).toBeNull();
  });

  it('refuses the most common passwords, whatever their case or full-width form', async () => {
    for (const common of ['password', 'iloveyou', 'PASSWORD1', 'Qwertyuiop', '１２３４５６７８', 'trustno1']) {
      expect(await passwordProblem(common), common).toBe(COMMON_PASSWORD);
    }
    expect(await passwordProblem('password 1 of mine')).toBeNull();
  });

  it('refuses the username, the email address and its local part, the service name, and them with digits or symbols around', async () => {
    for (const bad of ['alice.liddell@example.test', 'ALICE.LIDDELL', 'alice.liddell2024', '!!alice.liddell', 'alice2024!', 'Gatehouse#1', 'gatehouse']) {
      expect(await passwordProblem(bad, ALICE), bad).toBe(CONTEXT_PASSWORD);
    }
    // Only with those added: a word inside a longer passphrase is fine.
    expect(await passwordProblem('alice in wonderland 1865', ALICE)).toBeNull();
    expect(await passwordProblem('alice.liddell2024', { username: 'bob' })).toBeNull();
  });

  // Each of these was accepted before zxcvbn and the checks below (issue #10, point 8).
  it('refuses passwords with nothing visible: spaces of any kind, zero-width and other invisible characters', async () => {
    for (const blank of [
      ' '.repeat(8),
      '\u200b'.repeat(8),
      '\u3000'.repeat(8),
      '\u00a0\u2003\u200b\u200c\u200d\ufeff\u2060\u3164',
      '\t\n \r\u180e\u2800 \u200b',
    ]) {
      expect(await passwordProblem(blank), JSON.stringify(blank)).toBe(INVISIBLE_PASSWORD);
    }
    // Invisible padding adds nothing: "ab" and a dozen zero-width spaces is judged as "ab".
    expect(await passwordProblem(`ab${'\u200b'.repeat(12)}`)).toMatch(new RegExp(`^${GUESSABLE_PASSWORD}`));
    expect(await passwordProblem(`pass\u200bword`)).toBe(COMMON_PASSWORD);
  });

  it('refuses repeated characters and sequences, saying so', async () => {
    expect(await passwordProblem('aaaaaaaa')).toBe(`${GUESSABLE_PASSWORD}: repeated characters like "aaa" are easy to guess`);
    expect(await passwordProblem('abababababab')).toMatch(new RegExp(`^${GUESSABLE_PASSWORD}: `));
    expect(await passwordProblem('abcdefgh')).toBe(`${GUESSABLE_PASSWORD}: common character sequences like "abc" are easy to guess`);
    expect(await passwordProblem('98765432')).toMatch(new RegExp(`^${GUESSABLE_PASSWORD}`));
    expect(await passwordProblem('qwertyuiop[]')).toMatch(/^is (too easy to guess|one of the most common)/);
  });

  it('refuses common passwords with decoration around them or the usual capital, digit and symbol', async () => {
    for (const decorated of ['Password1!', '!password!', '***iloveyou***', '2024sunshine!']) {
      expect(await passwordProblem(decorated), decorated).toBe(COMMON_PASSWORD);
    }
    // And what zxcvbn knows beyond the list: l33t, dictionary words with a year.
    expect(await passwordProblem('P@ssw0rd2024')).toMatch(new RegExp(`^(${GUESSABLE_PASSWORD}|${COMMON_PASSWORD})`));
  });

  it('reads the shipped list: thousands of entries, all at least 8 characters, lower case', async () => {
    const list = await loadCommonPasswords();
    expect(list.size).toBeGreaterThan(10_000);
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points on purpose, as the policy counts them
    expect([...list].filter((entry) => [...entry].length < 8 || entry !== entry.toLowerCase())).toEqual([]);
  });
});

describe('checkPassword', () => {
  const normalized = (password_hash: string | null) => ({ password_hash, password_normalized: true });
  const legacy = (password_hash: string) => ({ password_hash, password_normalized: false });
  afterEach(() => vi.restoreAllMocks());

  it('hashes and checks the NFKC form, so precomposed and combining accents are one password', async () => {
    const hash = await hashPassword('crème brûlée au café');
    const decomposed = 'crème brûlée au café'.normalize('NFD');
    expect(decomposed).not.toBe('crème brûlée au café');
    expect(await checkPassword(normalized(hash), decomposed)).toEqual({ ok: true, outdated: false });
    expect(await checkPassword(normalized(hash), 'creme brulee au cafe')).toEqual({ ok: false, outdated: false });
  });

  it('still accepts a hash of the password as typed when it is marked as made before normalisation, and marks it outdated', async () => {
    const typed = 'ﬁve ﬁsh in a row';
    const asTyped = await argon2.hash(typed, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(await checkPassword(legacy(asTyped), typed)).toEqual({ ok: true, outdated: true });
    // A hash marked as normalised is of the normalised form only: the typed form is not tried.
    expect(await checkPassword(normalized(asTyped), typed)).toEqual({ ok: false, outdated: false });
  });

  it('pays one argon2 for an unknown user and for a normalised hash, two only for an unmarked legacy hash', async () => {
    const typed = 'ﬁve ﬁsh in a row'; // NFKC changes it ("fi" ligatures)
    const hash = await hashPassword(typed);
    const verify = vi.spyOn(argon2, 'verify');
    const count = async (stored: Parameters<typeof checkPassword>[0]) => {
      verify.mockClear();
      await checkPassword(stored, typed);
      return verify.mock.calls.length;
    };
    expect(await count(undefined)).toBe(1);
    expect(await count(normalized(null))).toBe(1);
    expect(await count(normalized(await hashPassword('another password entirely')))).toBe(1);
    expect(await count(normalized(hash))).toBe(1);
    expect(await count(legacy(await hashPassword('another password entirely')))).toBe(2);
    // A legacy hash that matches the normalised form is outdated too: re-hashing marks it.
    expect(await checkPassword(legacy(hash), typed)).toEqual({ ok: true, outdated: true });
  });

  it('marks a hash outdated when its variant or parameters differ from the current ones', async () => {
    const current = await hashPassword('a perfectly fine passphrase');
    expect(hashIsOutdated(current)).toBe(false);
    expect(hashIsOutdated(await argon2.hash('x', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 }))).toBe(true);
    expect(hashIsOutdated(await argon2.hash('x', { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 }))).toBe(true);
  });

  it('answers an unknown user (no hash) with a failed check', async () => {
    expect(await checkPassword(undefined, 'whatever it is')).toEqual({ ok: false, outdated: false });
  });
});
