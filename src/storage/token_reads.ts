import type { Db } from '../db/db.js';
import { perTurnBatch } from '../db/per_turn_batch.js';
import { readAhead } from '../core/read_ahead.js';
import { userToKeep } from '../accounts/read_ahead_user.js';
import { createOidcModelsStore, type TokenRow } from './oidc_models_store.js';
import type { ReadCache } from '../cache/read_cache.js';

// Token and code look-ups for the storage adapter (postgres_adapter.ts). A token is read with
// what the library looks up right after it in the same request: its grant (every use of a token
// checks it), the session it expires with (token-session binding) and its account
// (findAccount). One statement instead of up to four (oidc_models_store.ts findTokens); the
// extra rows are kept for the request's next look-ups (core/read_ahead.ts). And the look-ups of
// the requests served in one turn of the event loop (introspection's three finds of one token
// among them) go out as one statement (per_turn_batch.ts). A token read again (an API
// introspecting the same token on every call, a page calling userinfo) comes from this process's
// cache (cache/read_cache.ts) while nothing it was read with has changed.

/** The models read this way: bearer tokens and codes. */
export const READ_AHEAD_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

export const grantKey = (id: string) => `Grant:${id}`;
export const sessionByUidKey = (uid: string) => `Session@uid:${uid}`;

/** The cache key of a token row, and the tag its row's change is announced by (migration 0021). */
export const tokenTag = (model: string, key: string) => `t:${model}:${key}`;
export const grantTag = (grantId: string) => `g:${grantId}`;
export const sessionTag = (uid: string) => `s:${uid}`;
export const accountTag = (sub: string) => `a:${sub.toLowerCase()}`;

/**
 * What a token row depends on: itself, its grant, the session it expires with and its user. A
 * row missing one of them (a grant revoked, a session ended, a user deleted) is not kept: it is
 * refused anyway, and no announcement would say when the missing row comes back.
 */
function dependencies(row: TokenRow): string[] | undefined {
  const tags = [tokenTag(row.model, row.id)];
  if (row.grant_id) {
    if (!row.grant) return undefined;
    tags.push(grantTag(row.grant_id));
  }
  if (row.payload.expiresWithSession === true) {
    if (!row.session || typeof row.payload.sessionUid !== 'string') return undefined;
    tags.push(sessionTag(row.payload.sessionUid));
  }
  if (typeof row.payload.accountId === 'string') {
    if (!row.account) return undefined;
    tags.push(accountTag(row.account.sub));
  }
  return tags;
}

/** The row's expiry, its grant's and its session's, and the payload's own `exp`, whichever first. */
function validUntil(row: TokenRow): number {
  const exp = typeof row.payload.exp === 'number' ? row.payload.exp * 1000 : Infinity;
  return Math.min(row.valid_until ?? Infinity, exp);
}

interface Wanted {
  model: string;
  key: string;
}

/** `find(model, key)`: the row of that model under that storage key, or undefined. */
export function createTokenReads(db: Db, cache?: ReadCache): (model: string, key: string) => Promise<TokenRow | undefined> {
  const store = createOidcModelsStore(db);
  const batched = perTurnBatch<Wanted, TokenRow | undefined>(async (wanted) => {
    const models = [...new Set(wanted.map((w) => w.model))];
    const keys = [...new Set(wanted.map((w) => w.key))];
    const rows = await store.findTokens(models, keys);
    // Other combinations of the batch's models and keys may bring rows nobody asked for: left.
    // Two requests presenting one token in the same turn never share the objects.
    const handed = new Set<TokenRow>();
    return wanted.map(({ model, key }) => {
      const row = rows.find((r) => r.model === model && r.id === key);
      if (!row) return undefined;
      if (!handed.has(row)) {
        handed.add(row);
        return row;
      }
      return structuredClone(row);
    });
  });

  const readAheadModels = [...READ_AHEAD_MODELS];
  const keptAsAnotherModel = (model: string, key: string) =>
    cache !== undefined && readAheadModels.some((other) => other !== model && cache.has('token', tokenTag(other, key)));

  async function cachedOrRead(model: string, key: string): Promise<TokenRow | undefined> {
    if (!cache) return batched({ model, key });
    const cacheKey = tokenTag(model, key);
    const kept = cache.get('token', cacheKey, false);
    if (kept !== undefined) return JSON.parse(kept) as TokenRow;
    // Introspection looks a token up under every token model; ids are random (256 bits), so an
    // id kept as one model is no other model's: those look-ups need no statement either.
    if (keptAsAnotherModel(model, key)) return undefined;
    cache.missed('token');
    const ticket = cache.begin();
    const row = await batched({ model, key });
    const tags = row && dependencies(row);
    // Stored as text before the caller can change the row.
    if (row && tags) cache.store(ticket, 'token', cacheKey, JSON.stringify(row), tags, validUntil(row));
    return row;
  }

  return async (model, key) => {
    // Begun before the statement goes out: a write of this request meanwhile keeps nothing.
    const read = readAhead.begin();
    const row = await cachedOrRead(model, key);
    // Back in the caller's own request: what was read with its token is kept there.
    if (row?.grant && row.grant_id) read.keep(grantKey(row.grant_id), row.grant);
    if (row?.session && typeof row.payload.sessionUid === 'string') read.keep(sessionByUidKey(row.payload.sessionUid), row.session);
    if (row?.account) {
      const { key: userKey, user } = userToKeep(row.account);
      read.keep(userKey, user);
    }
    return row;
  };
}
