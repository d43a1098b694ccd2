import type { Response } from 'express';
import type { UsersRepo } from '../accounts/users_repo.js';
import { checkPassword } from '../accounts/passwords.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { Metrics } from '../observability/metrics.js';
import { setRetryAfter } from '../http/retry_after.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { PasskeysRepo } from '../storage/passkeys_repo.js';
import { amrOf, cleanPasskeyName, type PasskeyCeremonies } from '../passkeys/passkey_ceremonies.js';
import { passkeyRefusalMessage } from '../passkeys/passkey_refusals.js';
import type { Actor } from './account_actions.js';
import type { SecurityNotice } from '../accounts/self_service_mail.js';
import { t } from '../i18n/page_language.js';

// Passkeys on /account: adding one (two script requests: options, then the authenticator's
// response with the name typed for it), renaming and removing (plain forms). All of it scoped to
// the signed-in account and audited. Adding a passkey takes the current password (checked and
// throttled as a sign-in): a passkey signs in alone, so a borrowed session must not be able to
// leave one of its own behind.

export interface PasskeyActionsDeps {
  users: Pick<UsersRepo, 'findBySub'>;
  passkeys: PasskeyCeremonies;
  passkeysRepo: PasskeysRepo;
  audit: Pick<AuditLog, 'record' | 'recordRepeated'>;
  throttle: LoginThrottle;
  metrics: Pick<Metrics, 'lockout'>;
  /** mails the user a security notice (a passkey added); never fails the action */
  notify: (sub: string, notice: SecurityNotice) => Promise<void>;
}

const jsonRefusal = (res: Response, status: number, reason: string, message: string) => res.status(status).json({ error: 'passkey_refused', reason, message });

const lockedMessage = (seconds: number) => t('account.password.error.locked', { count: Math.ceil(seconds / 60) });

export function createPasskeyActions({ users, passkeys, passkeysRepo, audit, throttle, metrics, notify }: PasskeyActionsDeps) {
  return {
    /** The registration options, once the current password (`body.current_password`) is right. */
    async options(res: Response, actor: Actor, sessionUid: string, body: Record<string, unknown>): Promise<void> {
      const user = await users.findBySub(actor.accountId);
      if (!user || user.disabled) return void jsonRefusal(res, 403, 'disabled', t('account.error.unavailable.message'));
      const password = typeof body.current_password === 'string' ? body.current_password : '';
      if (!password) return void jsonRefusal(res, 400, 'password_required', t('account.passkeys.error.password_required'));
      const who = { ...actor, username: user.username };
      const admission = await throttle.admit({ sub: user.sub }, actor.ip);
      if (!admission.admitted) {
        await audit.recordRepeated(
          {
            event: 'login.failure',
            ...who,
            details: { reason: 'locked_out', scope: admission.scope, retry_after: admission.retryAfterSeconds, form: 'add_passkey' },
          },
          { key: `login.failure:locked_out:add_passkey:${admission.lockKey}`, windowSeconds: admission.lockoutSeconds },
        );
        setRetryAfter(res, admission.retryAfterSeconds);
        return void jsonRefusal(res, 429, 'locked', lockedMessage(admission.retryAfterSeconds));
      }
      if (!(await checkPassword(user, password)).ok) {
        await audit.record({ event: 'login.failure', ...who, details: { reason: 'bad_credentials', form: 'add_passkey' } });
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          await audit.record({ event: 'login.locked', ...who, details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds } });
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length === 0) return void jsonRefusal(res, 401, 'bad_password', t('account.password.error.wrong_current'));
        const seconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
        setRetryAfter(res, seconds);
        return void jsonRefusal(res, 429, 'locked', lockedMessage(seconds));
      }
      await throttle.succeeded(admission.attempt);
      res.json(await passkeys.registrationOptions(user, sessionUid));
    },

    async register(res: Response, actor: Actor, sessionUid: string, body: Record<string, unknown>): Promise<void> {
      const name = cleanPasskeyName(body.name);
      if (!name) return void jsonRefusal(res, 400, 'bad_name', t('account.passkeys.error.bad_name', { max: 64 }));
      const result = await passkeys.register(actor.accountId, sessionUid, body.response, name);
      if (!result.ok) {
        await audit.record({ event: 'passkey.failed', ...actor, details: { reason: result.reason, step: 'register' } });
        return void jsonRefusal(res, 400, result.reason, passkeyRefusalMessage(result.reason));
      }
      await audit.record({ event: 'passkey.enrolled', ...actor, details: { passkey: result.passkey.id, name, amr: amrOf(result.passkey) } });
      await notify(actor.accountId, 'passkey_added');
      res.json({ redirect: '/account?done=passkey-added' });
    },

    /** false: no such passkey of this account */
    async rename(actor: Actor, id: string, name: string): Promise<boolean> {
      if (!(await passkeysRepo.rename(actor.accountId, id, name))) return false;
      await audit.record({ event: 'passkey.renamed', ...actor, details: { passkey: id, name } });
      return true;
    },

    async remove(actor: Actor, id: string): Promise<boolean> {
      const passkey = (await passkeysRepo.list(actor.accountId)).find((p) => p.id === id);
      if (!passkey || !(await passkeysRepo.remove(actor.accountId, id))) return false;
      await audit.record({ event: 'passkey.removed', ...actor, details: { passkey: id, name: passkey.name } });
      return true;
    },
  };
}
