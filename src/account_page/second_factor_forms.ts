import type { User } from '../accounts/users_repo.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { Metrics } from '../observability/metrics.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import type { Actor } from './account_actions.js';

// Confirming an authenticator app on /account: the code is a guess like any other, so it goes
// through the same shared throttle as the sign-in's code form (the account's second-factor
// counter), and failures and lockouts are audited.

export interface SecondFactorFormsDeps {
  mfa: Pick<SecondFactors, 'confirmTotp' | 'pendingTotp'>;
  throttle: LoginThrottle;
  audit: Pick<AuditLog, 'record'>;
  metrics: Pick<Metrics, 'lockout'>;
}

type Outcome = { ok: true } | { ok: false; status: number; message: string; retryAfterSeconds?: number };

const lockedMessage = (seconds: number) => `Too many wrong codes. Try again in ${Math.ceil(seconds / 60)} minute(s).`;

export function createSecondFactorForms({ mfa, throttle, audit, metrics }: SecondFactorFormsDeps) {
  return {
    async confirmTotp(user: User, actor: Actor, code: string): Promise<Outcome> {
      if (!(await mfa.pendingTotp(user.sub, user.username))) return { ok: false, status: 409, message: 'Start setting up an authenticator app first.' };
      const admission = await throttle.admit({ sub: `mfa:${user.sub}` }, actor.ip);
      if (!admission.admitted) {
        await audit.record({ event: 'mfa.failure', ...actor, username: user.username, details: { reason: 'locked_out', form: 'account' } });
        return { ok: false, status: 429, message: lockedMessage(admission.retryAfterSeconds), retryAfterSeconds: admission.retryAfterSeconds };
      }
      if (!(await mfa.confirmTotp(user.sub, code))) {
        await audit.record({ event: 'mfa.failure', ...actor, username: user.username, details: { reason: 'bad_code', form: 'account' } });
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
        return { ok: false, status: 400, message: 'That code is not right. Enter the 6-digit code your app shows now.' };
      }
      await throttle.succeeded(admission.attempt);
      await audit.record({ event: 'mfa.totp.enrolled', ...actor, username: user.username, details: { where: 'account' } });
      return { ok: true };
    },
  };
}
