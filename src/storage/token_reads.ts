import type { Db } from '../db/db.js';
import { perTurnBatch } from '../db/per_turn_batch.js';
import { readAhead } from '../core/read_ahead.js';
import { userToKeep } from '../accounts/read_ahead_user.js';
import { createOidcModelsStore, type TokenRow } from './oidc_models_store.js';

// Token and code look-ups for the storage adapter (postgres_adapter.ts). A token is read with
// what the library looks up right after it in the same request: its grant (every use of a token
// checks it), the session it expires with (token-session binding) and its account
// (findAccount). One statement instead of up to four (oidc_models_store.ts findTokens); the
// extra rows are kept for the request's next look-ups (core/read_ahead.ts). And the look-ups of
// the requests served in one turn of the event loop (introspection's three finds of one token
// among them) go out as one statement (per_turn_batch.ts).

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

interface Wanted {
  model: string;
  key: string;
}

/** `find(model, key)`: the row of that model under that storage key, or undefined. */
export function createTokenReads(db: Db): (model: string, key: string) => Promise<TokenRow | undefined> {
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

  return async (model, key) => {
    // Begun before the statement goes out: a write of this request meanwhile keeps nothing.
    const read = readAhead.begin();
    const row = await batched({ model, key });
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
