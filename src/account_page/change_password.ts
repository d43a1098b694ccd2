import type { User, UsersRepo } from '../accounts/users_repo.js';
import { checkPassword } from '../accounts/passwords.js';
import { createPasswordReplacer, type PasswordReplaced } from '../logout/replace_password.js';
import { describePasswordProblem, findPasswordProblem } from '../accounts/password_policy.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { Metrics } from '../observability/metrics.js';
import type { AccountSessions } from '../storage/account_sessions.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import type { Actor } from './account_actions.js';
import { t } from '../i18n/page_language.js';

// Changing one's password on /account. The current password is required, so a session left
// open on someone else's screen cannot take the account over; a wrong one is a failed sign-in
// for the login throttle (counted against the username and the address, and locked out like
// one), so a stolen session cannot be used to guess it either. The new password must pass the
// same policy as `gatehouse users set-password`. Afterwards replace_password.ts does what every
// password change does: every OTHER session of the account ends and every grant is revoked with
// its tokens (offline ones too), with back-channel logouts sent: whoever else was signed in with
// the old password, or holds a refresh token, is out; the browser that changed it stays in.

export interface ChangePasswordDeps {
  users: Pick<UsersRepo, 'setPasswordHash'>;
  throttle: LoginThrottle;
  sessions: Pick<AccountSessions, 'listSessions' | 'endSessions' | 'revokeGrants'>;
  backchannel: Pick<BackchannelQueue, 'send'>;
  audit: Pick<AuditLog, 'record' | 'recordRepeated'>;
  metrics: Pick<Metrics, 'lockout'>;
}

export interface PasswordForm {
  current: unknown;
  next: unknown;
  confirm: unknown;
}

export type PasswordChange = ({ ok: true } & PasswordReplaced) | { ok: false; status: 400 | 401 | 429; message: string; retryAfterSeconds?: number };

const lockedMessage = (seconds: number) => t('account.password.error.locked', { count: Math.ceil(seconds / 60) });
const text = (value: unknown) => (typeof value === 'string' ? value : '');

export function createPasswordChanger(deps: ChangePasswordDeps) {
  const replacePassword = createPasswordReplacer({ users: deps.users, sessions: deps.sessions, notify: (notices) => deps.backchannel.send(notices) });

  /** Counts a wrong current password as a failed sign-in; returns the answer to give. */
  async function wrongCurrent(user: User, actor: Actor, attempt: Parameters<LoginThrottle['failed']>[0]): Promise<PasswordChange> {
    const who = { ...actor, username: user.username };
    await deps.audit.record({ event: 'login.failure', ...who, details: { reason: 'bad_credentials', form: 'change_password' } });
    const lockouts = await deps.throttle.failed(attempt);
    for (const lockout of lockouts) {
      await deps.audit.record({ event: 'login.locked', ...who, details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds } });
      deps.metrics.lockout(lockout.scope);
    }
    if (lockouts.length === 0) return { ok: false, status: 401, message: t('account.password.error.wrong_current') };
    const retryAfterSeconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
    return { ok: false, status: 429, message: lockedMessage(retryAfterSeconds), retryAfterSeconds };
  }

  return async function changePassword(user: User, actor: Actor, currentSessionKey: string, form: PasswordForm): Promise<PasswordChange> {
    const [current, next, confirm] = [text(form.current), text(form.next), text(form.confirm)];
    if (!current) return { ok: false, status: 400, message: t('account.password.error.current_missing') };
    if (next !== confirm) return { ok: false, status: 400, message: t('account.password.error.mismatch') };
    const problem = await findPasswordProblem(next, { username: user.username, email: user.email });
    if (problem) return { ok: false, status: 400, message: t('account.password.error.rejected', { problem: describePasswordProblem(problem, t) }) };

    const admission = await deps.throttle.admit({ sub: user.sub }, actor.ip);
    if (!admission.admitted) {
      await deps.audit.recordRepeated(
        {
          event: 'login.failure',
          ...actor,
          username: user.username,
          details: { reason: 'locked_out', scope: admission.scope, retry_after: admission.retryAfterSeconds, form: 'change_password' },
        },
        { key: `login.failure:locked_out:change_password:${admission.lockKey}`, windowSeconds: admission.lockoutSeconds },
      );
      return { ok: false, status: 429, message: lockedMessage(admission.retryAfterSeconds), retryAfterSeconds: admission.retryAfterSeconds };
    }
    if (!(await checkPassword(user, current)).ok) return wrongCurrent(user, actor, admission.attempt);
    await deps.throttle.succeeded(admission.attempt);

    const replaced = await replacePassword(user.sub, next, { keepSessionId: currentSessionKey });
    await deps.audit.record({
      event: 'password.changed',
      ...actor,
      username: user.username,
      details: { sessions_ended: replaced.sessionsEnded, grants_revoked: replaced.grantsRevoked, logouts: replaced.logoutNotices },
    });
    return { ok: true, ...replaced };
  };
}
