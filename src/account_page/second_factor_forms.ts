import type { User } from '../accounts/users_repo.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { Metrics } from '../observability/metrics.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import type { Actor } from './account_actions.js';
import { t } from '../i18n/page_language.js';

// Confirming or removing an authenticator app on /account: each needs a code (removing it takes
// a current code or a recovery code, so a borrowed session cannot quietly turn the second factor
// off). A code is a guess like any other, so it goes through the same shared throttle as the
// sign-in's code form (the account's second-factor counter), and failures and lockouts are audited.

export interface SecondFactorFormsDeps {
  mfa: Pick<SecondFactors, 'confirmTotp' | 'pendingTotp' | 'verify' | 'removeTotp'>;
  throttle: LoginThrottle;
  audit: Pick<AuditLog, 'record'>;
  metrics: Pick<Metrics, 'lockout'>;
}

type Outcome = { ok: true } | { ok: false; status: number; message: string; retryAfterSeconds?: number };

const lockedMessage = (seconds: number) => t('mfa_code.error.locked', { count: Math.ceil(seconds / 60) });

export function createSecondFactorForms({ mfa, throttle, audit, metrics }: SecondFactorFormsDeps) {
  /** Runs `check` as one throttled guess; `ok` when it returned true. */
  async function guarded(user: User, actor: Actor, form: string, check: () => Promise<boolean>, wrong: string): Promise<Outcome> {
    const admission = await throttle.admit({ sub: `mfa:${user.sub}` }, actor.ip);
    if (!admission.admitted) {
      await audit.record({ event: 'mfa.failure', ...actor, username: user.username, details: { reason: 'locked_out', form } });
      return { ok: false, status: 429, message: lockedMessage(admission.retryAfterSeconds), retryAfterSeconds: admission.retryAfterSeconds };
    }
    if (!(await check())) {
      await audit.record({ event: 'mfa.failure', ...actor, username: user.username, details: { reason: 'bad_code', form } });
      const lockouts = await throttle.failed(admission.attempt);
      for (const lockout of lockouts) {
        await audit.record({
          event: 'mfa.locked',
          ...actor,
          username: user.username,
          details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds },
        });
        metrics.lockout(lockout.scope);
      }
      if (lockouts.length) {
        const seconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
        return { ok: false, status: 429, message: lockedMessage(seconds), retryAfterSeconds: seconds };
      }
      return { ok: false, status: 400, message: wrong };
    }
    await throttle.succeeded(admission.attempt);
    return { ok: true };
  }

  return {
    async confirmTotp(user: User, actor: Actor, code: string): Promise<Outcome> {
      if (!(await mfa.pendingTotp(user.sub, user.username))) return { ok: false, status: 409, message: t('account.mfa.error.not_started') };
      const outcome = await guarded(user, actor, 'account', () => mfa.confirmTotp(user.sub, code), t('mfa_enrol.error.wrong_code'));
      if (outcome.ok) await audit.record({ event: 'mfa.totp.enrolled', ...actor, username: user.username, details: { where: 'account' } });
      return outcome;
    },

    /** Removes the authenticator app when `code` is a current code from it or an unused recovery code. */
    async removeTotp(user: User, actor: Actor, code: string): Promise<Outcome> {
      const outcome = await guarded(user, actor, 'remove', async () => code !== '' && (await mfa.verify(user.sub, code)).ok, t('account.mfa.error.wrong_code'));
      if (!outcome.ok) return outcome;
      if (!(await mfa.removeTotp(user.sub))) return { ok: false, status: 404, message: t('account.mfa.error.no_app') };
      await audit.record({ event: 'mfa.totp.removed', ...actor, username: user.username });
      return outcome;
    },
  };
}
