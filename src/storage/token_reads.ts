import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';
import { perTurnBatch } from '../db/per_turn_batch.js';
import { keepForRequest } from '../core/request_context.js';
import { joinUserSql, keepUserForRequest, userJsonSql } from '../accounts/read_ahead_user.js';

// Token and code look-ups for the storage adapter (postgres_adapter.ts). A token is read with
// what the library looks up right after it in the same request: its grant (every use of a token
// checks it), the session it expires with (token-session binding) and its account
// (findAccount). One statement instead of up to four; the extra rows are kept in the request's
// context (request_context.ts) for those look-ups. And the look-ups of the requests served in
// one turn of the event loop (introspection's three finds of one token among them) go out as
// one statement (per_turn_batch.ts).

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

const FIND_TOKENS = `SELECT t.model, t.id, t.payload, extract(epoch FROM t.consumed_at)::bigint AS consumed, t.grant_id,
                            g.payload AS grant, s.payload AS session, ${userJsonSql('u')} AS account
     FROM oidc_models t
     LEFT JOIN oidc_models g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > now())
     LEFT JOIN oidc_models s ON t.payload -> 'expiresWithSession' = 'true'::jsonb AND s.model = 'Session'
       AND s.uid = t.payload ->> 'sessionUid' AND (s.expires_at IS NULL OR s.expires_at > now())
     ${joinUserSql('u', "t.payload ->> 'accountId'")}
     WHERE t.model = ANY($1) AND t.id = ANY($2) AND (t.expires_at IS NULL OR t.expires_at > now())`;

export interface TokenRow {
  model: string;
  id: string;
  payload: AdapterPayload;
  consumed: string | null;
  grant_id: string | null;
  grant: AdapterPayload | null;
  session: AdapterPayload | null;
  account: Parameters<typeof keepUserForRequest>[0] | null;
}

interface Wanted {
  model: string;
  key: string;
}

/** `find(model, key)`: the row of that model under that storage key, or undefined. */
export function createTokenReads(db: Db): (model: string, key: string) => Promise<TokenRow | undefined> {
  const batched = perTurnBatch<Wanted, TokenRow | undefined>(async (wanted) => {
    const models = [...new Set(wanted.map((w) => w.model))];
    const keys = [...new Set(wanted.map((w) => w.key))];
    const { rows } = await db.query<TokenRow>({ name: 'oidc_findTokens', text: FIND_TOKENS, values: [models, keys] });
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
    const row = await batched({ model, key });
    // Back in the caller's own request: what was read with its token is kept there.
    if (row?.grant && row.grant_id) keepForRequest(grantKey(row.grant_id), row.grant);
    if (row?.session && typeof row.payload.sessionUid === 'string') keepForRequest(sessionByUidKey(row.payload.sessionUid), row.session);
    if (row?.account) keepUserForRequest(row.account);
    return row;
  };
}
