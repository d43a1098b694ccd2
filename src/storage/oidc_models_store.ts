import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';
import { EVERYTHING } from '../db/local_changes.js';
import { joinUserSql, userJsonSql, type UserJson } from '../accounts/read_ahead_user.js';

// The `oidc_models` table's statements, all of them: every model oidc-provider persists but
// clients (postgres_adapter.ts and its batched reads and writes, token_reads.ts and
// model_writes.ts), the insert-only proofs (replay_detection.ts), the expiry sweep
// (sweep_expired.ts), and a user's sessions and grants as /account and `gatehouse sessions`
// see them (account_sessions.ts). Rows are keyed by storage key (storage_key.ts): callers
// hash, this module only stores.

const LIVE = `(expires_at IS NULL OR expires_at > now())`;

/** A row as the adapter reads it back: `consumed` is epoch seconds, or null. */
export interface FoundModel {
  payload: AdapterPayload;
  consumed: string | null;
}

/** A device code found by its user code: with its row key (device_code_rows.ts). */
export interface FoundByUserCode extends FoundModel {
  id: string;
}

/** An interaction read with its session, grant and user (postgres_adapter.ts). */
export interface InteractionRow extends FoundModel {
  session: AdapterPayload | null;
  grant_id: string | null;
  grant: AdapterPayload | null;
  account: UserJson | null;
}

/** A row as the adapter saves it. */
export interface ModelRow {
  model: string;
  id: string;
  payload: AdapterPayload;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresAt: Date | null;
  accountId: string | null;
  clientInfo: { ip?: string; user_agent?: string } | null;
}

/** A token or code read with its grant, session and account (token_reads.ts). */
export interface TokenRow {
  model: string;
  id: string;
  payload: AdapterPayload;
  consumed: string | null;
  grant_id: string | null;
  grant: AdapterPayload | null;
  session: AdapterPayload | null;
  account: UserJson | null;
  /** when the token, its grant or its session expires, whichever first (epoch ms), or null */
  valid_until: number | null;
}

/** What account_sessions.ts reads of a session payload. */
export interface SessionPayload {
  accountId?: string;
  loginTs?: number;
  authorizations?: Record<string, { sid?: string; grantId?: string; persistsLogout?: boolean }>;
}

/** What account_sessions.ts reads of a grant payload. */
interface GrantPayload {
  clientId?: string;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

export interface SessionRow {
  id: string;
  payload: SessionPayload;
  client_info: { ip?: string; user_agent?: string } | null;
  updated_at: Date;
  expires_at: Date | null;
}

export interface GrantRow {
  id: string;
  payload: GrantPayload;
  created_at: Date;
  expires_at: Date | null;
}

const SQL = {
  find: `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
         WHERE model = $1 AND id = $2 AND ${LIVE}`,
  findByUid: `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
              WHERE model = $1 AND uid = $2 AND ${LIVE} LIMIT 1`,
  findByUserCode: `SELECT id, payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models
                   WHERE model = $1 AND user_code = $2 AND ${LIVE} LIMIT 1`,
  // A lost consume race is a replay: the whole grant goes, its Grant row included, so even the
  // winner's tokens stop working (they are checked against their grant on every use).
  revokeReplayed: `WITH replayed AS (SELECT grant_id FROM oidc_models WHERE model = $1 AND id = $2 AND grant_id IS NOT NULL)
                   DELETE FROM oidc_models WHERE grant_id IN (SELECT grant_id FROM replayed)
                      OR (model = 'Grant' AND id IN (SELECT grant_id FROM replayed))`,
  destroy: `DELETE FROM oidc_models WHERE model = $1 AND id = $2`,
  destroyMany: `DELETE FROM oidc_models WHERE (model, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
  // An interaction with what the library looks up after it in the same request: its session
  // (interaction checks), the grant its consent step reads and updates, and its user (findAccount).
  findInteraction: `SELECT i.payload, extract(epoch FROM i.consumed_at)::bigint AS consumed,
                           s.payload AS session, g.id AS grant_id, g.payload AS grant, ${userJsonSql('u')} AS account
     FROM oidc_models i
     LEFT JOIN oidc_models s ON s.model = 'Session' AND s.uid = i.payload -> 'session' ->> 'uid' AND (s.expires_at IS NULL OR s.expires_at > now())
     LEFT JOIN oidc_models g ON g.model = 'Grant' AND g.id = coalesce(i.payload -> 'result' -> 'consent' ->> 'grantId', i.payload ->> 'grantId')
       AND (g.expires_at IS NULL OR g.expires_at > now())
     ${joinUserSql('u', "coalesce(i.payload -> 'result' -> 'login' ->> 'accountId', i.payload -> 'session' ->> 'accountId')")}
     WHERE i.model = 'Interaction' AND i.id = $1 AND (i.expires_at IS NULL OR i.expires_at > now())`,
  // Every grantable artifact of the grant at once, whichever model asked.
  revokeByGrantId: `DELETE FROM oidc_models WHERE grant_id = $1`,
  upsertMany: `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at, account_id, client_info)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::jsonb[])
     ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
       user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
       account_id = excluded.account_id, client_info = coalesce(oidc_models.client_info, excluded.client_info),
       updated_at = now()`,
  consumeMany: `UPDATE oidc_models SET consumed_at = now()
     WHERE (model, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND consumed_at IS NULL
     RETURNING model, id`,
  findTokens: `SELECT t.model, t.id, t.payload, extract(epoch FROM t.consumed_at)::bigint AS consumed, t.grant_id,
                            g.payload AS grant, s.payload AS session, ${userJsonSql('u')} AS account,
                            (extract(epoch FROM least(t.expires_at, g.expires_at, s.expires_at)) * 1000)::float8 AS valid_until
     FROM oidc_models t
     LEFT JOIN oidc_models g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > now())
     LEFT JOIN oidc_models s ON t.payload -> 'expiresWithSession' = 'true'::jsonb AND s.model = 'Session'
       AND s.uid = t.payload ->> 'sessionUid' AND (s.expires_at IS NULL OR s.expires_at > now())
     ${joinUserSql('u', "t.payload ->> 'accountId'")}
     WHERE t.model = ANY($1) AND t.id = ANY($2) AND (t.expires_at IS NULL OR t.expires_at > now())`,
  // A row left behind after it expired (not swept yet) no longer counts as a use.
  replayInsert: `INSERT INTO oidc_models (model, id, payload, expires_at) VALUES ('ReplayDetection', $1, $2, $3)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at, updated_at = now()
    WHERE oidc_models.expires_at IS NOT NULL AND oidc_models.expires_at <= now()
  RETURNING 1`,
  sweepExpired: `DELETE FROM oidc_models WHERE (model, id) IN (
  SELECT model, id FROM oidc_models WHERE expires_at < now() LIMIT $1)`,
  accountSessions: `SELECT id, payload, client_info, updated_at, expires_at FROM oidc_models
              WHERE account_id = $1 AND model = 'Session' AND ${LIVE} ORDER BY updated_at DESC`,
  accountSessionPrefix: `SELECT id, account_id FROM oidc_models
                      WHERE model = 'Session' AND starts_with(id, $1) AND ${LIVE} LIMIT 2`,
  accountEndSessions: `DELETE FROM oidc_models WHERE model = 'Session' AND account_id = $1 AND ($2::text[] IS NULL OR id = ANY($2))
                   RETURNING payload`,
  accountGrants: `SELECT id, payload, created_at, expires_at FROM oidc_models
            WHERE account_id = $1 AND model = 'Grant' AND ${LIVE} ORDER BY created_at DESC`,
  // A grant and everything issued under it (codes, access and refresh tokens).
  accountRevokeGrants: `DELETE FROM oidc_models WHERE grant_id = ANY($1) OR (model = 'Grant' AND id = ANY($1))`,
  accountGrantIds: `SELECT id FROM oidc_models WHERE account_id = $1 AND model = 'Grant' AND ($2::text IS NULL OR payload ->> 'clientId' = $2)`,
  // A client whose access is revoked no longer counts as signed in to the account's sessions, so
  // a later sign-out does not notify it a second time.
  accountForgetClientsInSessions: `UPDATE oidc_models SET payload = jsonb_set(payload, '{authorizations}', (payload -> 'authorizations') - $2::text[])
                             WHERE model = 'Session' AND account_id = $1 AND payload -> 'authorizations' ?| $2::text[]`,
} as const;

// The prepared statements' names, as they were before the statements moved here.
const NAMES: Record<keyof typeof SQL, string> = {
  find: 'oidc_find',
  findByUid: 'oidc_findByUid',
  findByUserCode: 'oidc_findByUserCode',
  revokeReplayed: 'oidc_revokeReplayed',
  destroy: 'oidc_destroy',
  destroyMany: 'oidc_destroyMany',
  findInteraction: 'oidc_findInteraction',
  revokeByGrantId: 'oidc_revokeByGrantId',
  upsertMany: 'oidc_upsertMany',
  consumeMany: 'oidc_consumeMany',
  findTokens: 'oidc_findTokens',
  replayInsert: 'oidc_replayInsert',
  sweepExpired: 'sweep_expired',
  accountSessions: 'account_sessions',
  accountSessionPrefix: 'account_session_prefix',
  accountEndSessions: 'account_end_sessions',
  accountGrants: 'account_grants',
  accountRevokeGrants: 'account_revoke_grants',
  accountGrantIds: 'account_grant_ids',
  accountForgetClientsInSessions: 'account_forget_clients_in_sessions',
};

function upsertColumns(rows: readonly ModelRow[]): unknown[] {
  const column = <K extends keyof ModelRow>(key: K) => rows.map((row) => row[key]);
  return [
    column('model'),
    column('id'),
    column('payload'),
    column('grantId'),
    column('userCode'),
    column('uid'),
    column('expiresAt'),
    column('accountId'),
    column('clientInfo'),
  ];
}

export function createOidcModelsStore(db: Pick<Db, 'query' | 'localChanges'>) {
  /** The statement named as it was before the statements moved here (prepared by that name). */
  const statement = (key: keyof typeof SQL, values: unknown[]) => ({ name: NAMES[key], text: SQL[key], values });
  const q = (key: keyof typeof SQL, values: unknown[]) => db.query(statement(key, values));

  return {
    // The adapter's single-row statements (postgres_adapter.ts); `id` is a storage key.
    find: async (model: string, id: string) => (await db.query<FoundModel>(statement('find', [model, id]))).rows[0],
    findByUid: async (model: string, uid: string) => (await db.query<FoundModel>(statement('findByUid', [model, uid]))).rows[0],
    findByUserCode: async (model: string, userCode: string) => (await db.query<FoundByUserCode>(statement('findByUserCode', [model, userCode]))).rows[0],
    findInteraction: async (id: string) => (await db.query<InteractionRow>(statement('findInteraction', [id]))).rows[0],
    async revokeReplayed(model: string, id: string): Promise<void> {
      await q('revokeReplayed', [model, id]);
    },
    async destroy(model: string, id: string): Promise<void> {
      await q('destroy', [model, id]);
    },
    async revokeByGrantId(grantId: string): Promise<void> {
      await q('revokeByGrantId', [grantId]);
    },

    /** Saves these rows in one statement; a (model, id) must appear once (model_writes.ts). */
    async upsertMany(rows: readonly ModelRow[]): Promise<void> {
      await q('upsertMany', upsertColumns(rows));
    },
    // The statements of writes held until the request answers (held_model_rows.ts): sent unnamed,
    // inside one statement with the request's other writes (db/held_writes.ts).
    upsertManyStatement: (rows: readonly ModelRow[]) => ({ text: SQL.upsertMany, values: upsertColumns(rows) }),
    destroyManyStatement: (keys: readonly { model: string; id: string }[]) => ({
      text: SQL.destroyMany,
      values: [keys.map((k) => k.model), keys.map((k) => k.id)],
    }),
    /** Marks these rows consumed; returns those this statement consumed (not consumed before). */
    async consumeMany(wanted: readonly { model: string; id: string }[]): Promise<{ model: string; id: string }[]> {
      return (await db.query<{ model: string; id: string }>(statement('consumeMany', [wanted.map((w) => w.model), wanted.map((w) => w.id)]))).rows;
    },
    /** Live rows of any of `models` under any of `ids`, each with its grant, session and user. */
    async findTokens(models: readonly string[], ids: readonly string[]): Promise<TokenRow[]> {
      return (await db.query<TokenRow>(statement('findTokens', [models, ids]))).rows;
    },
    /** Inserts a proof's row; false when a live row with this key exists (replay_detection.ts). */
    async insertReplay(id: string, payload: unknown, expiresAt: Date | null): Promise<boolean> {
      return (await q('replayInsert', [id, payload, expiresAt])).rowCount > 0;
    },
    /** Deletes at most `limit` expired rows; returns how many (sweep_expired.ts). */
    async deleteExpired(limit: number): Promise<number> {
      return (await q('sweepExpired', [limit])).rowCount;
    },

    // A user's sessions and grants (account_sessions.ts).
    sessionsOf: async (accountId: string) => (await db.query<SessionRow>(statement('accountSessions', [accountId]))).rows,
    sessionsByIdPrefix: async (prefix: string) => (await db.query<{ id: string; account_id: string }>(statement('accountSessionPrefix', [prefix]))).rows,
    /** Deletes the account's sessions (all of them when `ids` is null); returns their payloads. */
    endSessions: async (accountId: string, ids: readonly string[] | null) => {
      const ended = (await db.query<{ payload: SessionPayload }>(statement('accountEndSessions', [accountId, ids]))).rows.map((row) => row.payload);
      // Tokens that expire with these sessions: this process's caches drop them now (db/local_changes.ts).
      db.localChanges.announce([EVERYTHING]);
      return ended;
    },
    grantsOf: async (accountId: string) => (await db.query<GrantRow>(statement('accountGrants', [accountId]))).rows,
    grantIdsOf: async (accountId: string, clientId: string | null) =>
      (await db.query<{ id: string }>(statement('accountGrantIds', [accountId, clientId]))).rows.map((row) => row.id),
    async revokeGrants(grantIds: readonly string[]): Promise<void> {
      await q('accountRevokeGrants', [grantIds]);
      db.localChanges.announce(grantIds.map((id) => `g:${id}`));
    },
    async forgetClientsInSessions(accountId: string, clientIds: readonly string[]): Promise<void> {
      await q('accountForgetClientsInSessions', [accountId, clientIds]);
    },
  };
}
