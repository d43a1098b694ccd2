import type { Db } from '../db/db.js';
import type { AuditEvent, AuditLog } from '../audit/audit_log.js';
import type { AccountSessions } from '../storage/account_sessions.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import { ACCOUNT_CLIENT_ID } from '../config/account_client.js';
import { listGrantedApps } from './granted_apps.js';

// What a signed-in user can end or take back from /account: one of their sessions, all of them,
// or an application's access. Each does what the protocol would (the sessions' grants and
// tokens go, back-channel logout notices are sent to the applications signed in through them)
// and is audited. Everything is scoped to the account: an id of someone else's session or an
// application the user never allowed ends nothing.

export interface AccountActionsDeps {
  db: Db;
  sessions: Pick<AccountSessions, 'endSessions' | 'revokeGrants' | 'listGrants'>;
  backchannel: Pick<BackchannelQueue, 'send'>;
  audit: Pick<AuditLog, 'record'>;
}

/** Who acted, from where: what every audit event of these actions carries. */
export type Actor = Pick<AuditEvent, 'ip' | 'userAgent'> & { accountId: string };

export function createAccountActions({ db, sessions, backchannel, audit }: AccountActionsDeps) {
  return {
    /** Ends one of the account's sessions; false when it is not (or no longer) one of them. */
    async endSession(actor: Actor, sessionId: string, current: boolean): Promise<boolean> {
      const { ended, notices } = await sessions.endSessions(actor.accountId, [sessionId]);
      if (ended === 0) return false;
      await backchannel.send(notices);
      await audit.record({ event: 'sessions.revoked', ...actor, details: { sessions: ended, current } });
      return true;
    },

    /** Ends every session of the account, this one included; returns how many. */
    async signOutEverywhere(actor: Actor): Promise<number> {
      const { ended, notices } = await sessions.endSessions(actor.accountId);
      await backchannel.send(notices);
      await audit.record({ event: 'sessions.revoked', ...actor, details: { sessions: ended, everywhere: true } });
      return ended;
    },

    /**
     * Takes an application's access back: its grants and tokens, and the remembered consent, so
     * the next sign-in asks again. False when it had nothing to take back.
     */
    async revokeApp(actor: Actor, clientId: string): Promise<boolean> {
      // The account page itself is no application the user granted (listGrantedApps leaves it out).
      const granted = await listGrantedApps(db, sessions, actor.accountId);
      if (clientId === ACCOUNT_CLIENT_ID || !granted.some((app) => app.clientId === clientId)) return false;
      const { revoked, notices } = await sessions.revokeGrants(actor.accountId, clientId);
      await backchannel.send(notices);
      await audit.record({ event: 'consent.revoked', ...actor, clientId, details: { grants_revoked: revoked } });
      return true;
    },
  };
}
