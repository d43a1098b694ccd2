import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import { isUuid } from '../core/uuid.js';
import { deleteInBatches } from '../db/delete_in_batches.js';
import { currentHold, type HeldPart, type HeldStatement } from '../db/held_writes.js';

// The audit trail: who did what to which account, from where. Each event is a row of
// `audit_events` (read by the account page and by investigators) and a log line whose `event`
// field is the event's stable name (for log pipelines). Callers pass identifiers only: account
// ids, usernames of real accounts, client ids, grant ids, reasons. Never a password, token,
// code, cookie or secret, and never a login as typed (people type passwords into it).
//
// Writing the row must never break what is being audited: a failed write is logged and dropped.
// Inside a request that holds its writes (db/held_writes.ts) the row goes out with the request's
// other writes, before its answer; a row refused for its data is then dropped (and logged) alone.

/** Every audit event, with the level of its log line. The names are stable (README, "Audit trail"). */
const AUDIT_EVENTS = {
  'login.success': 'info',
  /** details.reason: bad_credentials | disabled | locked_out */
  'login.failure': 'info',
  /** an account or an IP was locked out; details.reason: account | ip */
  'login.locked': 'warn',
  'consent.given': 'info',
  'consent.revoked': 'info',
  /** RP-initiated logout at the end-session endpoint */
  logout: 'info',
  /** the revocation endpoint destroyed a token */
  'token.revoked': 'info',
  /** an authorization code or refresh token was used twice: its whole grant was revoked */
  'token.replayed': 'warn',
  'user.added': 'info',
  'user.disabled': 'info',
  'user.enabled': 'info',
  'user.password_set': 'info',
  /** `gatehouse users unlock`: the account's failed sign-ins were forgotten */
  'user.unlocked': 'info',
  'user.deleted': 'info',
  /** `gatehouse users set-claim|unset-claim|roles add|roles remove`; details.claim, change, roles (never a value) */
  'user.claims_changed': 'info',
  'keys.rotated': 'info',
  /** a key was deleted at once (`keys revoke`); details.kid, kind, alg, replacement */
  'keys.revoked': 'warn',
  'config.reloaded': 'info',
  /** sessions ended from outside the protocol (CLI `sessions revoke`, /account); details.sessions */
  'sessions.revoked': 'info',
  /** a confidential client failed to authenticate (wrong secret) at the token, introspection, revocation or PAR endpoint */
  'client_auth.failure': 'info',
  /** a client was locked out after CLIENT_AUTH_MAX_FAILURES; details.lockout_seconds */
  'client_auth.locked': 'warn',
  /** a sign-in through an upstream identity provider failed; details.upstream, reason (upstream_failure.ts) */
  'upstream.failure': 'info',
  /** an upstream identity was linked to a local account; details.upstream, how: created | password | email */
  'upstream.linked': 'info',
  /** the user unlinked an upstream identity on /account; details.upstream */
  'upstream.unlinked': 'info',
  /** the user changed their password on /account */
  'password.changed': 'info',
  /** a passkey was added on /account; details.passkey (credential id), name, amr (hwk | swk) */
  'passkey.enrolled': 'info',
  /** details.passkey, name */
  'passkey.renamed': 'info',
  /** details.passkey, name; actor cli when `users mfa reset` removed them (details.passkeys: count) */
  'passkey.removed': 'info',
  /** a passkey signed in, or completed the second-factor step; details.passkey, amr, step (sign_in | second_factor) */
  'passkey.used': 'info',
  /** a passkey sign-in or registration was refused; details.reason, step, passkey when known */
  'passkey.failed': 'info',
  /** an authenticator app was confirmed (details.where: account | sign_in) */
  'mfa.totp.enrolled': 'info',
  /** the authenticator app was removed on /account */
  'mfa.totp.removed': 'info',
  /** ten new recovery codes replaced the old ones */
  'mfa.recovery_codes.generated': 'info',
  /** a recovery code was used at sign-in; details.remaining */
  'mfa.recovery_code.used': 'warn',
  /** a second factor was accepted at sign-in; details.method: totp | recovery_code (| passkey), step_up */
  'mfa.success': 'info',
  /** a second factor was refused; details.reason: bad_code | locked_out, details.form: sign_in | enrol | account */
  'mfa.failure': 'info',
  /** too many wrong codes: second-factor attempts locked; details.reason: account | ip */
  'mfa.locked': 'warn',
  /** a client or request demanded a second factor of a user without one: sent to set one up */
  'mfa.enrolment_required': 'info',
  /** `gatehouse users mfa reset`: every second factor removed, sessions ended; details.removed */
  'mfa.reset': 'warn',
  /** self-service registration (src/interactions/registration.ts): an account made; details.verification */
  'registration.completed': 'info',
  /** the form refused (details.fields, reason username_taken): nothing made */
  'registration.refused': 'info',
  /** the address already had an account: its owner was mailed, the registrant told nothing */
  'registration.email_taken': 'warn',
  /** over the per-IP registration limit; details.retry_after */
  'registration.throttled': 'warn',
  /** a verification link was mailed (details.resend when asked again) */
  'email.verification_sent': 'info',
  /** the verification link was followed: email_verified is true */
  'email.verified': 'info',
  /** the user edited their name claims on /account; details.fields */
  'profile.updated': 'info',
  /** the user asked for a new address (details.domain; refused address_taken when another account has it) */
  'email.change_requested': 'info',
  /** the new address's link was followed: the account's address changed (verified) */
  'email.changed': 'warn',
  /** the forgot-password form was sent for an existing account (a link was mailed); unknown addresses leave no row */
  'password_reset.requested': 'info',
  /** the forgot-password form was refused by the per-address or per-IP limit; details.scope: address | ip */
  'password_reset.throttled': 'warn',
  /** a new password was set through a reset link; every session ended */
  'password_reset.completed': 'info',
  /** a reset link was refused or its new password was; details.reason: invalid_link | weak_password | disabled */
  'password_reset.failed': 'info',
  /** `gatehouse users invite` (actor cli): the user was created without a password, or re-invited; details.reinvited */
  'user.invited': 'info',
  /** the invited user set a password through the invitation link (email_verified becomes true) */
  'invitation.accepted': 'info',
  /** an invitation link was refused or its password was; details.reason: invalid_link | weak_password */
  'invitation.failed': 'info',
  /** a device sign-in (RFC 8628) was approved at /device; details.scope, grant_id */
  'device.approved': 'info',
  /** a device sign-in was denied or aborted at /device; details.reason (the error the device receives, e.g. access_denied) */
  'device.denied': 'info',
  /** an address typed too many wrong user codes at /device and was locked out; details.lockout_seconds */
  'device.user_code_locked': 'warn',
} as const satisfies Record<string, 'info' | 'warn'>;

type AuditEventName = keyof typeof AUDIT_EVENTS;

export interface AuditEvent {
  event: AuditEventName;
  /** the account's `sub` */
  accountId?: string | undefined;
  username?: string | undefined;
  clientId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** event-specific identifiers; `actor` says who acted when it was not the user (`cli`, `signal`) */
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  occurred_at: Date;
  event: string;
  account_id: string | null;
  username: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  /** how many times the event happened (repeats recorded by recordRepeated) */
  repeat_count: number;
  /** the latest repeat, when there was more than one */
  last_occurred_at: Date | null;
}

/** What makes repeats of an event one row: the same key, each within `windowSeconds` of the last. */
interface RepeatKey {
  key: string;
  windowSeconds: number;
}

export interface AuditLog {
  /** Writes the row and the log line. Never throws. */
  record(event: AuditEvent): Promise<void>;
  /**
   * Like record, for an event anyone can repeat at will (a refused attempt during a lockout):
   * repeats with the same key, each within the window of the one before, add to one row's
   * `repeat_count` (its details become the latest ones). Never throws.
   */
  recordRepeated(event: AuditEvent, repeat: RepeatKey): Promise<void>;
  /** The account's most recent events, newest first. */
  listForAccount(accountId: string, limit?: number): Promise<AuditRow[]>;
}

/** Where a request came from: Express requests and oidc-provider's Koa contexts both fit. */
export function requestOrigin(source: { ip?: string | undefined; get(header: string): string | undefined }): Pick<AuditEvent, 'ip' | 'userAgent'> {
  return { ip: source.ip || undefined, userAgent: source.get('user-agent') || undefined };
}

const clip = (value: string | undefined, max: number) => (value ? value.slice(0, max) : null);

const INSERT = `INSERT INTO audit_events (event, account_id, username, client_id, ip, user_agent, details)
                VALUES ($1, $2, $3, $4, $5, $6, $7)`;
// A repeat after the window starts a new row: the old one keeps its count and loses its key.
const CLOSE_STALE = `UPDATE audit_events SET aggregate_key = NULL
                     WHERE aggregate_key = $1 AND coalesce(last_occurred_at, occurred_at) < now() - make_interval(secs => $2)`;
const INSERT_OR_COUNT = `INSERT INTO audit_events (event, account_id, username, client_id, ip, user_agent, details, aggregate_key)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (aggregate_key) WHERE aggregate_key IS NOT NULL DO UPDATE
                  SET repeat_count = audit_events.repeat_count + 1, last_occurred_at = now(), details = excluded.details,
                      ip = excluded.ip, user_agent = excluded.user_agent`;
const LIST = `SELECT id::text AS id, occurred_at, event, account_id, username, client_id, ip, user_agent, details,
                     repeat_count, last_occurred_at
              FROM audit_events WHERE account_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2`;

/** The audit rows of one request, held until it answers: optional, as every audit write is. */
function heldAuditRows(onDropped: (error: unknown, event: AuditEventName) => void): HeldPart & { add(event: AuditEventName, values: unknown[]): void } {
  let held: HeldStatement[] = [];
  let events: AuditEventName[] = [];
  return {
    optional: true,
    add(event, values) {
      held.push({ text: INSERT, values });
      events.push(event);
    },
    get empty() {
      return held.length === 0;
    },
    take() {
      const taken = held;
      held = [];
      return taken;
    },
    sent() {
      events = [];
    },
    dropped(error) {
      for (const event of events) onDropped(error, event);
      events = [];
    },
  };
}

export function createAuditLog({ db, log }: { db: Pick<Db, 'query'>; log: Logger }): AuditLog {
  const dropped = (error: unknown, event: AuditEventName) =>
    log.error({ err: error, event: 'audit.write_failed', audit_event: event }, 'could not write an audit event');
  const write = async ({ event, accountId, username, clientId, ip, userAgent, details = {} }: AuditEvent, repeat?: RepeatKey) => {
    // Subjects are uuids; anything else (a client_credentials token's client) is no account.
    const account = accountId && isUuid(accountId) ? accountId : undefined;
    log[AUDIT_EVENTS[event]]({ ...details, sub: account, username, client_id: clientId, ip, event }, `audit: ${event}`);
    const values = [event, account ?? null, clip(username, 254), clip(clientId, 255), clip(ip, 64), clip(userAgent, 512), details];
    try {
      if (!repeat) {
        const hold = currentHold();
        if (hold) {
          hold
            .part(
              'audit_events',
              () => heldAuditRows(dropped),
              (statement) => db.query(statement),
            )
            .add(event, values);
          return;
        }
        await db.query({ name: 'audit_insert', text: INSERT, values });
        return;
      }
      await db.query({ name: 'audit_close_stale', text: CLOSE_STALE, values: [repeat.key, repeat.windowSeconds] });
      await db.query({ name: 'audit_insert_or_count', text: INSERT_OR_COUNT, values: [...values, repeat.key] });
    } catch (error) {
      log.error({ err: error, event: 'audit.write_failed', audit_event: event }, 'could not write an audit event');
    }
  };
  return {
    record: (event) => write(event),
    recordRepeated: (event, repeat) => write(event, repeat),

    async listForAccount(accountId, limit = 50) {
      if (!isUuid(accountId)) return [];
      const { rows } = await db.query<AuditRow>({ name: 'audit_list_for_account', text: LIST, values: [accountId, Math.max(1, Math.min(limit, 1000))] });
      return rows;
    },
  };
}

/** Deletes audit rows older than `retentionDays`, in small batches; returns how many. */
export async function pruneAuditEvents(db: Pick<Db, 'query'>, retentionDays: number, batchSize = 5000, maxBatches = 1000): Promise<number> {
  const pruneBatch = async (limit: number) =>
    (
      await db.query({
        name: 'audit_prune',
        text: `DELETE FROM audit_events WHERE id IN (
               SELECT id FROM audit_events WHERE occurred_at < now() - make_interval(days => $1) LIMIT $2)`,
        values: [retentionDays, limit],
      })
    ).rowCount;
  return deleteInBatches(pruneBatch, batchSize, maxBatches);
}
