import type { AccountSessions } from '../storage/account_sessions.js';
import type { LogoutNotice } from '../storage/logout_notices.js';
import { hashPassword } from '../accounts/passwords.js';
import type { UsersRepo } from '../accounts/users_repo.js';

// What every password change or reset does, wherever it is made (`gatehouse users set-password`,
// the /account form): a new password means the old one may be known to someone else, so whoever
// signed in with it, or holds a token issued under it, is out.
// - Every session ends, except the one the change was made from (/account keeps the browser that
//   changed it; the CLI keeps none).
// - Every grant of the account is revoked with everything issued under it: access tokens and
//   refresh tokens, offline_access ones too (they outlive a sign-out, not a password change).
//   What the user consented to is kept: nothing about the applications changed, only who holds
//   the password, so signing in again does not ask for consent again.
// - The applications those sessions and grants signed in to get back-channel logouts.
// The caller says how notices go out (the server sends them now, the CLI queues them) and
// audits the change as its own actor.

export interface ReplacePasswordDeps {
  users: Pick<UsersRepo, 'setPasswordHash'>;
  sessions: Pick<AccountSessions, 'listSessions' | 'endSessions' | 'revokeGrants'>;
  /** delivers (or queues) the back-channel logouts owed */
  notify(notices: LogoutNotice[]): Promise<void>;
}

export interface PasswordReplaced {
  sessionsEnded: number;
  grantsRevoked: number;
  logoutNotices: number;
}

export function createPasswordReplacer({ users, sessions, notify }: ReplacePasswordDeps) {
  /** Sets `sub`'s password (already checked against the policy) and evicts every other holder. */
  return async function replacePassword(sub: string, password: string, options: { keepSessionId?: string } = {}): Promise<PasswordReplaced> {
    await users.setPasswordHash(sub, await hashPassword(password));
    const keep = options.keepSessionId;
    const others = keep === undefined ? undefined : (await sessions.listSessions(sub)).map((s) => s.id).filter((id) => id !== keep);
    const ended = others?.length === 0 ? { ended: 0, notices: [] } : await sessions.endSessions(sub, others);
    const revoked = await sessions.revokeGrants(sub, undefined, { keepConsent: true });
    // One notice per client and session: a client signed out of an ended session and then again
    // because its grant went is told once.
    const seen = new Set<string>();
    const notices = [...ended.notices, ...revoked.notices].filter((n) => {
      const key = `${n.clientId}\0${n.sid ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    await notify(notices);
    return { sessionsEnded: ended.ended, grantsRevoked: revoked.revoked, logoutNotices: notices.length };
  };
}
