import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

// OWASP's argon2id parameters (m=19456 KiB, t=2, p=1). argon2 hashes on libuv's thread pool,
// so a sign-in never blocks the event loop.
/** Exported for `npm run bench`, which times one verify with these (its argon2 ceiling) from dist/. */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most one hash per core at a time; the others wait their turn here. More would not finish
 * sooner (each one keeps a core busy), but each running hash holds its 19 MiB (which the C
 * allocator may keep afterwards: see the Dockerfile's GLIBC_TUNABLES), and libuv's pool (4 threads
 * by default) would have none left for the file, DNS and WebCrypto work (token signatures)
 * other requests wait on.
 */
let maxConcurrentHashes = Math.max(1, availableParallelism());

/** With WEB_CONCURRENCY workers on the machine, each takes its share of the cores (at least one). */
export function shareCoresForHashing(workers: number): void {
  maxConcurrentHashes = Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers)));
}

const hashSlots = (() => {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function inSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running >= maxConcurrentHashes) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, so `running` stays counted.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
})();

/**
 * NIST SP 800-63B 5.1.1.2: passwords are NFKC-normalised before they are hashed or measured, so
 * the same password typed on two keyboards (a precomposed "é" or "e" plus an accent, a
 * full-width digit) is the same password.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export function hashPassword(password: string): Promise<string> {
  const normalized = normalizePassword(password);
  return hashSlots(() => argon2.hash(normalized, ARGON2_PARAMS));
}

/** True when `hash` was not made with ARGON2_PARAMS (another variant, cost or version). */
export function hashIsOutdated(hash: string): boolean {
  if (!hash.startsWith('$argon2id$')) return true;
  try {
    return argon2.needsRehash(hash, ARGON2_PARAMS);
  } catch {
    return false; // not a PHC string argon2 can read: verification fails anyway
  }
}

export interface PasswordCheck {
  ok: boolean;
  /** the password is right but its stored hash should be replaced by a fresh hashPassword() */
  outdated: boolean;
}

let dummyHash: Promise<string> | undefined;

async function verifyOne(hash: string, candidate: string): Promise<boolean> {
  try {
    return await hashSlots(() => argon2.verify(hash, candidate));
  } catch {
    return false;
  }
}

/** What is stored for an account: its hash, and whether that hash is of the normalised form. */
export interface StoredPassword {
  password_hash: string | null;
  /** false for hashes that may predate normalisation (migration 0009) */
  password_normalized: boolean;
}

/**
 * Checks `password` against a stored password (none: an unknown user, checked against a dummy
 * hash, so the answer takes one argon2 either way). Hashes made before passwords were normalised
 * hold the password as typed and are marked so (`normalized: false`): for those alone, and only
 * for the rare password that normalisation changes, the typed form is tried too. A right
 * password against such a hash is reported as outdated, so the sign-in re-hashes it into the
 * normalised, marked form and the second check never happens again for that account.
 */
export async function checkPassword(stored: StoredPassword | undefined, password: string): Promise<PasswordCheck> {
  const normalized = normalizePassword(password);
  const hash = stored?.password_hash;
  if (!stored || !hash) {
    dummyHash ??= hashPassword('gatehouse-dummy-password');
    await verifyOne(await dummyHash, normalized);
    return { ok: false, outdated: false };
  }
  const candidates = stored.password_normalized || normalized === password ? [normalized] : [normalized, password];
  for (const candidate of candidates) {
    if (await verifyOne(hash, candidate)) return { ok: true, outdated: !stored.password_normalized || hashIsOutdated(hash) };
  }
  return { ok: false, outdated: false };
}

/** Whether `password` matches a hash made by hashPassword() (of the normalised form). */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  return (await checkPassword({ password_hash: hash ?? null, password_normalized: true }, password)).ok;
}
