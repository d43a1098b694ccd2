import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';
import { storageKey as keyOfModel, isStoredHashed } from './storage_key.js';
import { DEVICE_CODE_MODEL, EXPIRED_KEPT_SECONDS, deviceCodeHandle, deviceCodeKey } from './device_code_rows.js';
import { hasNul, hasUnstorableText } from '../core/nul_characters.js';
import { currentRequest } from '../core/request_context.js';
import { readAhead } from '../core/read_ahead.js';
import { createTokenReads, grantKey, grantTag, READ_AHEAD_MODELS, sessionByUidKey, sessionTag, tokenTag } from './token_reads.js';
import { createModelWrites } from './model_writes.js';
import { createReplayInsert } from './replay_detection.js';
import { createOidcModelsStore, type FoundModel, type ModelRow } from './oidc_models_store.js';
import { createClientsStore } from './clients_store.js';
import { noCaches, type Caches } from '../cache/caches.js';
import type { ReadCache } from '../cache/read_cache.js';
import { currentHold } from '../db/held_writes.js';
import { userToKeep } from '../accounts/read_ahead_user.js';
import { createHeldModelRows, type HeldModelRows, type Staled } from './held_model_rows.js';

// The oidc-provider storage adapter for every model it persists. Clients live in their own
// table (synced from the config file); every other model is a row of oidc_models.
//
// Bearer values never reach the database: tokens, codes, sessions and interactions are keyed by
// a SHA-256 of their id (storage_key.ts) and their payload is stored without the id, which is
// put back from the caller's value on read. A copy of the database names no usable token,
// code, session cookie or interaction.
//
// Round trips are what a request pays for most (BENCHMARKS.md): tokens and codes are read with
// their grant, session and user in one statement (token_reads.ts), and the frequent reads and
// writes of the requests served in one turn of the event loop share a statement
// (per_turn_batch.ts, model_writes.ts). Inside a request, saves and deletes are held until it
// answers and then sent with its other writes as one statement (held_model_rows.ts,
// db/held_writes.ts); an interaction is read with its session, grant and user.

// Models listed per account (sessions and grants on /account and by `gatehouse sessions`).
const OWNED = new Set(['Session', 'Grant']);

/** Where a session was started from; a session saved outside a request keeps what it had. */
function clientInfo(model: string): { ip?: string; user_agent?: string } | null {
  if (model !== 'Session') return null;
  const request = currentRequest();
  return request ? { ip: request.ip, user_agent: request.userAgent } : null;
}

/** A stored artifact's key; a device code's may be a handle (device_code_rows.ts). */
function storageKey(model: string, id: string): string {
  return model === DEVICE_CODE_MODEL ? deviceCodeKey(id) : keyOfModel(model, id);
}

// Models whose rows belong to a grant and go when the grant is revoked.
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/**
 * How long a client read from the clients table is reused before it is read again. Every token,
 * introspection and userinfo request looks its client up, and the table changes only when the
 * config file is synced: without the cache that is a database round trip per request. Writes
 * through this adapter drop the entry at once; a change made by another instance (or process)
 * drops it when the database announces it (cache/caches.ts), or, with no listener, is seen
 * within the shorter time.
 */
const CLIENT_CACHE_TTL_MS = 5_000;
const ANNOUNCED_CLIENT_CACHE_TTL_MS = 60_000;

interface CachedClient {
  until: number;
  /** the payload as JSON text: parsed afresh for each caller */
  json: Promise<string | undefined>;
}

/**
 * Found clients only: an unknown client_id is looked up every time, so a flood of made-up ids
 * cannot grow the cache. Concurrent look-ups of one id share a single query. Each caller gets
 * its own copy, so nothing the library does to a payload leaks into the next request (parsing
 * the kept JSON text is about twice as fast as structuredClone of the object).
 */
function createClientCache(load: (clientId: string) => Promise<AdapterPayload | undefined>, ttlMs: () => number) {
  const entries = new Map<string, CachedClient>();
  function text(clientId: string): Promise<string | undefined> {
    let entry = entries.get(clientId);
    if (!entry || entry.until <= Date.now()) {
      const fresh: CachedClient = { until: Date.now() + ttlMs(), json: load(clientId).then((payload) => payload && JSON.stringify(payload)) };
      entry = fresh;
      entries.set(clientId, fresh);
      fresh.json.then(
        (json) => {
          if (json === undefined && entries.get(clientId) === fresh) entries.delete(clientId);
        },
        () => {
          if (entries.get(clientId) === fresh) entries.delete(clientId);
        },
      );
    }
    return entry.json;
  }
  return {
    text,
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      const json = await text(clientId);
      return json === undefined ? undefined : (JSON.parse(json) as AdapterPayload);
    },
    forget(clientId: string): void {
      entries.delete(clientId);
    },
    forgetAll(): void {
      entries.clear();
    },
  };
}

/**
 * The read-cache entries a write of this model and id changes (token_reads.ts tags). A session
 * is tagged by its uid, which a destroy does not name: everything goes then (sign-outs are few).
 */
function changedBy(model: string, key: string, payload?: AdapterPayload): string[] | 'all' {
  if (READ_AHEAD_MODELS.has(model)) return [tokenTag(model, key)];
  if (model === 'Grant') return [grantTag(key)];
  if (model === 'Session') return typeof payload?.uid === 'string' ? [sessionTag(payload.uid)] : 'all';
  return [];
}

function invalidate(cache: ReadCache, tags: string[] | 'all'): void {
  if (tags === 'all') cache.invalidateAll();
  else if (tags.length > 0) cache.invalidate(tags);
}

function toPayload(row: FoundModel | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed === null ? row.payload : { ...row.payload, consumed: Number(row.consumed) };
}

// An interaction's resume URL ends in its own id; it is stored with this in the id's place.
const ID_PLACEHOLDER = '{id}';

/**
 * What is stored of a payload: never `consumed` (it has its own column, and a stale copy must not
 * override it) and, for hashed models, never the id itself. An interaction also carries its
 * session's cookie value, which the library never reads back: it is dropped.
 */
function storedPayload(model: string, id: string, payload: AdapterPayload): AdapterPayload {
  const rest = { ...payload };
  delete rest.consumed;
  if (!isStoredHashed(model)) return rest;
  const { jti: _jti, ...stored } = rest;
  if (model === 'Interaction') {
    if (stored.session) {
      const { cookie: _cookie, ...session } = stored.session as Record<string, unknown>;
      stored.session = session;
    }
    if (typeof stored.returnTo === 'string') stored.returnTo = stored.returnTo.replaceAll(id, ID_PLACEHOLDER);
  }
  return stored;
}

/** A hashed model's payload as the library wrote it, from its row and the id it was found by. */
function restoredPayload(model: string, id: string, payload: AdapterPayload | undefined): AdapterPayload | undefined {
  if (!payload) return undefined;
  if (model === 'Interaction' && typeof payload.returnTo === 'string') payload.returnTo = payload.returnTo.replaceAll(ID_PLACEHOLDER, id);
  return { ...payload, jti: id };
}

/**
 * A write of the request being served. Rows read ahead before it may be out of date, and so may
 * those of a read that overlapped it (the request's statements can share a turn of the event
 * loop): the request's read-ahead rows are forgotten when the write starts and when it ends.
 * Only grants and sessions are read ahead (token_reads.ts; users are never written here): a write
 * of another kind (a token, a code, an interaction) passes `forgetsReadAhead: false` and leaves the
 * kept rows as they are, so a code exchange's access token does not make the session be read again.
 */
async function written<T>(write: () => Promise<T>, cache?: ReadCache, changed: string[] | 'all' = [], forgetsReadAhead = true): Promise<T> {
  if (forgetsReadAhead) readAhead.forgetAll();
  // The same for this process's cache: dropped before the write (nothing serves the old row
  // while it is under way) and after it (a read that overlapped it may have stored the old row;
  // the invalidation's generation keeps such a read from storing at all, read_cache.ts).
  if (cache) invalidate(cache, changed);
  try {
    return await write();
  } finally {
    if (forgetsReadAhead) readAhead.forgetAll();
    if (cache) invalidate(cache, changed);
  }
}

const READ_AHEAD_KINDS: ReadonlySet<string> = new Set(['Grant', 'Session']);

/** Sends the request's held writes, for a write or read that must come after them. */
async function sendHeld(): Promise<void> {
  await currentHold()?.flush();
}

export function createPostgresAdapter(db: Db, caches: Caches = noCaches()): new (model: string) => Adapter {
  // Every statement is in the tables' stores (oidc_models_store.ts, clients_store.ts); tokens and
  // codes are read by token_reads.ts, with their grant, session and account, and the frequent
  // writes go through model_writes.ts.
  const models = createOidcModelsStore(db);
  const clientRows = createClientsStore(db);
  const clients = createClientCache(
    (id) => clientRows.find(id),
    () => (caches.read.active ? ANNOUNCED_CLIENT_CACHE_TTL_MS : CLIENT_CACHE_TTL_MS),
  );
  caches.clientChanged((id) => (id === null ? clients.forgetAll() : clients.forget(id)));
  const cache = caches.read;
  const findToken = createTokenReads(db, cache);
  const writes = createModelWrites(db);
  const insertReplay = createReplayInsert(db);
  /** The request's held saves and deletes, when it holds its writes (db/held_writes.ts). */
  const heldRows = (): HeldModelRows | undefined =>
    currentHold()?.part(
      'oidc_models',
      () =>
        createHeldModelRows({
          upsert: (rows) => models.upsertManyStatement(rows),
          destroy: (keys) => models.destroyManyStatement(keys),
          written(staled) {
            // As `written` does once a write is done: what was read meanwhile is not kept.
            if (staled.some((s) => s.forgetsReadAhead)) readAhead.forgetAll();
            for (const s of staled) invalidate(cache, s.changed);
          },
        }),
      (statement) => db.query(statement),
    );
  /** Held rather than written: what it makes stale is dropped now, and again once it is sent. */
  const hold = (held: HeldModelRows, staled: Staled, write: (held: HeldModelRows) => void) => {
    if (staled.forgetsReadAhead) readAhead.forgetAll();
    invalidate(cache, staled.changed);
    write(held);
  };

  return class PostgresAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    /** Saves at once (outside a request, or a client or a proof's first use). */
    private async write(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = storageKey(this.model, id);
      await written(
        async () => {
          if (this.model === 'Client') {
            try {
              await clientRows.upsert(id, payload);
            } finally {
              // A look-up that started during the write may have cached the old row.
              clients.forget(id);
            }
            return;
          }
          const row = this.row(id, payload, expiresIn);
          // A proof's first use: insert-only, one statement of its own (replay_detection.ts).
          if (this.model === 'ReplayDetection') return insertReplay(key, row.payload, row.expiresAt);
          await writes.upsert(row);
        },
        cache,
        changedBy(this.model, key, payload),
        READ_AHEAD_KINDS.has(this.model),
      );
    }

    /**
     * A client's metadata as the JSON text kept by the client cache, or undefined for an unknown
     * id: the same text (by content) as long as the payload `find` would return is the same, so a
     * caller may reuse what it built from it (provider/client_instances.ts).
     */
    async findClientText(id: string): Promise<string | undefined> {
      if (this.model !== 'Client' || hasNul(id)) return undefined;
      return clients.text(id);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      // The library keeps some parameters as sent (nonce, state, every parameter of an
      // interaction or a pushed request, the claims asked for): one holding a NUL or a lone
      // surrogate cannot be stored, and must not reach a statement shared with other requests.
      if (hasUnstorableText(payload)) throw new errors.InvalidRequest('request parameters must not contain NUL characters or unpaired surrogates');
      const held = this.model === 'Client' || this.model === 'ReplayDetection' ? undefined : heldRows();
      if (!held) return this.write(id, payload, expiresIn);
      const row = this.row(id, payload, expiresIn);
      const staled = { changed: changedBy(this.model, row.id, payload), forgetsReadAhead: READ_AHEAD_KINDS.has(this.model) };
      hold(held, staled, (rows) => rows.upsert(row, payload, staled));
    }

    /** The row saved for this payload. */
    private row(id: string, payload: AdapterPayload, expiresIn?: number): ModelRow {
      // An expired device code is kept a while, to be answered expired_token (device_code_rows.ts).
      const keptFor = this.model === DEVICE_CODE_MODEL ? EXPIRED_KEPT_SECONDS : 0;
      const expiresAt = typeof expiresIn === 'number' && expiresIn > 0 ? new Date(Date.now() + (expiresIn + keptFor) * 1000) : null;
      return {
        model: this.model,
        id: storageKey(this.model, id),
        payload: storedPayload(this.model, id, payload),
        grantId: GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null,
        userCode: payload.userCode === undefined ? null : keyOfModel(this.model, payload.userCode),
        uid: payload.uid ?? null,
        expiresAt,
        accountId: OWNED.has(this.model) ? (payload.accountId ?? null) : null,
        clientInfo: clientInfo(this.model),
      };
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      // A client_id (or grant id) as a request sent it; nothing stored has a NUL in its id.
      if (!isStoredHashed(this.model) && hasNul(id)) return undefined;
      if (this.model === 'Client') return clients.find(id);
      const held = heldRows();
      // Saved or deleted by this request and not sent yet: as this request left it.
      const pending = held?.find(this.model, storageKey(this.model, id));
      if (pending !== undefined) return pending ?? undefined;
      if (READ_AHEAD_MODELS.has(this.model)) {
        // Read with its grant and session: those must be as this request left them.
        if (held && (held.holds('Grant') || held.holds('Session'))) await sendHeld();
        const row = await findToken(this.model, storageKey(this.model, id));
        return restoredPayload(this.model, id, toPayload(row));
      }
      if (this.model === 'Interaction') return this.findInteraction(id);
      if (this.model === 'Grant') {
        const kept = readAhead.take(grantKey(id)) as AdapterPayload | undefined;
        if (kept) return kept;
      }
      const found = toPayload(await models.find(this.model, storageKey(this.model, id)));
      return isStoredHashed(this.model) ? restoredPayload(this.model, id, found) : found;
    }

    /**
     * An interaction, read with its session, its grant and its user, kept for the look-ups the
     * library and our steps make next (Session.findByUid, Grant.find, findAccount).
     */
    private async findInteraction(id: string): Promise<AdapterPayload | undefined> {
      const read = readAhead.begin();
      const row = await models.findInteraction(storageKey(this.model, id));
      if (!row) return undefined;
      const sessionUid = (row.payload.session as { uid?: unknown } | undefined)?.uid;
      // A held write of a session or grant (none in the steps that read an interaction) wins over what was read.
      const held = heldRows();
      if (row.session && typeof sessionUid === 'string' && !held?.holds('Session')) read.keep(sessionByUidKey(sessionUid), row.session);
      if (row.grant && row.grant_id && !held?.holds('Grant')) read.keep(grantKey(row.grant_id), row.grant);
      if (row.account) {
        const { key, user } = userToKeep(row.account);
        read.keep(key, user);
      }
      return restoredPayload(this.model, id, toPayload(row));
    }

    // Found by a secondary key, a hashed model's own id cannot be put back: the library only
    // reads sessions found by uid (token-session binding, interaction checks), never saves them.
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (hasNul(uid)) return undefined;
      const held = heldRows();
      if (held?.holds(this.model)) {
        // A session this request saved, as it saved it; else what is held goes first.
        const pending = this.model === 'Session' ? held.sessionByUid(uid) : undefined;
        if (pending) return pending;
        await sendHeld();
        return toPayload(await models.findByUid(this.model, uid));
      }
      if (this.model === 'Session') {
        const kept = readAhead.take(sessionByUidKey(uid)) as AdapterPayload | undefined;
        if (kept) return kept;
      }
      return toPayload(await models.findByUid(this.model, uid));
    }

    // Only the device flow looks codes up by user code (at /device): the code comes back with
    // a handle in place of its id, which only the row's hash could give (device_code_rows.ts).
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (heldRows()?.holds(this.model)) await sendHeld();
      const row = await models.findByUserCode(this.model, keyOfModel(this.model, userCode));
      const payload = toPayload(row);
      return row && payload ? { ...payload, jti: deviceCodeHandle(row.id) } : undefined;
    }

    async consume(id: string): Promise<void> {
      // The library reads a code or refresh token, checks it is unused, then consumes it. Two
      // concurrent requests can both pass that check; only one of them may win here.
      // Consuming changes the code's or token's own row only, and those are never read ahead:
      // the grant, session and user read with it stay good for the rest of the request (the
      // code exchange then reads neither again). A replay revokes the grant: all is forgotten.
      const key = storageKey(this.model, id);
      // After this request's held writes, in the order the library made them.
      await sendHeld();
      await written(
        async () => {
          if (!(await writes.consume(this.model, key))) {
            // The whole grant goes; which one is not known here: every entry goes with it, and
            // every row read ahead for this request.
            try {
              await models.revokeReplayed(this.model, key);
            } finally {
              cache.invalidateAll();
              readAhead.forgetAll();
            }
            throw new errors.InvalidGrant('grant request is invalid');
          }
        },
        cache,
        changedBy(this.model, key),
        false,
      );
    }

    async destroy(id: string): Promise<void> {
      const held = this.model === 'Client' ? undefined : heldRows();
      if (held) {
        const key = storageKey(this.model, id);
        const staled = { changed: changedBy(this.model, key), forgetsReadAhead: READ_AHEAD_KINDS.has(this.model) };
        hold(held, staled, (rows) => rows.delete(this.model, key, staled));
        return;
      }
      await written(
        async () => {
          if (this.model === 'Client') {
            try {
              await clientRows.destroy(id);
            } finally {
              clients.forget(id);
            }
          } else await models.destroy(this.model, storageKey(this.model, id));
        },
        cache,
        this.model === 'Client' ? [] : changedBy(this.model, storageKey(this.model, id)),
        READ_AHEAD_KINDS.has(this.model),
      );
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // Every token of the grant carries the grant's tag (token_reads.ts).
      await sendHeld();
      await written(
        async () => {
          await models.revokeByGrantId(grantId);
        },
        cache,
        [grantTag(grantId)],
      );
    }
  };
}
