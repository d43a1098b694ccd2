import { hash } from 'node:crypto';

// The key a stored artifact is found by. Tokens, codes, sessions and interactions are bearer
// values: the database keeps only a SHA-256 of them (as Hydra does), so a copy of it cannot be
// replayed. Their ids carry 256 bits of randomness (the library's default), so an unsalted hash
// is as strong as the id itself. Grants are named inside tokens and by the account pages, and
// are no credential on their own; clients are public identifiers.

const PLAIN_MODELS = new Set(['Client', 'Grant']);

export function isStoredHashed(model: string): boolean {
  return !PLAIN_MODELS.has(model);
}

// Introspection looks one token up under three models in a row (the library's findToken), each
// look-up asking for the same hash: the last few are remembered (a pure function of the id; the
// ids stay no longer in memory than the few requests that just presented them).
const REMEMBERED = 8;
const recentIds: string[] = [];
const recentKeys: string[] = [];
let nextSlot = 0;

export function hashId(id: string): string {
  const at = recentIds.indexOf(id);
  if (at >= 0) return recentKeys[at] as string;
  // The one-shot form: a third of the time of createHash().update().digest() (Node ≥ 20.12).
  const key = hash('sha256', id, 'base64url');
  recentIds[nextSlot] = id;
  recentKeys[nextSlot] = key;
  nextSlot = (nextSlot + 1) % REMEMBERED;
  return key;
}

export function storageKey(model: string, id: string): string {
  return isStoredHashed(model) ? hashId(id) : id;
}
