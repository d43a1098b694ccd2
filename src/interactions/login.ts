import type { Request, Response } from 'express';
import type { Runtime } from '../provider/provider_host.js';
import type { Metrics } from '../observability/metrics.js';
import type { User, UsersRepo } from '../accounts/users_repo.js';
import { checkPassword } from '../accounts/passwords.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { setRetryAfter } from '../http/retry_after.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { Logger } from '../core/log.js';
import { WrongPrompt } from './interaction_errors.js';
import type { SecondFactorStep } from './second_factor.js';
import { t } from '../i18n/page_language.js';

// The login step: one message and one status for an unknown user, a wrong password and a
// disabled account without the right password, and the same argon2 work for each. Repeated
// failures slow the next attempt down and then lock the login (or the client IP) for a while:
// a locked attempt gets 429 without its password being checked. Every outcome is audited
// (login.success, login.failure with its reason, login.locked).

export interface LoginDeps {
  runtime: () => Pick<Runtime, 'provider' | 'selfService'>;
  metrics: Pick<Metrics, 'signIn' | 'lockout'>;
  users: UsersRepo;
  throttle: LoginThrottle;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record' | 'recordRepeated'>;
  log: Logger;
}

const lockedMessage = (seconds: number) => t('login.error.locked', { count: Math.ceil(seconds / 60) });

type PageLocals = {
  uid: string;
  clientId: string | undefined;
  clientName: string | undefined;
  login: string;
  remember?: boolean;
  error?: string;
  resendVerification?: boolean;
};

export function createLogin({ runtime, metrics, users, throttle, render, csrf, audit, log }: LoginDeps, secondFactor: Pick<SecondFactorStep, 'afterPassword'>) {
  async function page(res: Response, status: number, locals: PageLocals) {
    const csrfToken = csrf.issue('interaction', locals.uid);
    res
      .status(status)
      .type('html')
      .send(await render('login', { error: undefined, remember: false, ...locals, csrfToken, selfService: runtime().selfService }));
  }

  async function lockedPage(res: Response, locals: PageLocals, retryAfterSeconds: number) {
    setRetryAfter(res, retryAfterSeconds);
    await page(res, 429, { ...locals, error: lockedMessage(retryAfterSeconds) });
  }

  // The only moment the password is known: re-hash it with today's argon2 parameters. One hash
  // (~40 ms) once per user after a parameter change; a failure here must not fail the sign-in.
  async function upgradeHash(user: User, password: string) {
    try {
      if (await users.upgradePasswordHash(user, password))
        log.info({ event: 'password.rehashed', sub: user.sub }, 'password hash upgraded to the current argon2 parameters');
    } catch (error) {
      log.warn({ event: 'password.rehash_failed', sub: user.sub, err: error }, 'could not upgrade the password hash; the old one keeps working');
    }
  }

  return {
    async show(res: Response, uid: string, client: { clientId: string; clientName?: string | undefined }, loginHint: unknown) {
      await page(res, 200, {
        uid,
        clientId: client.clientId,
        clientName: client.clientName ?? client.clientId,
        login: typeof loginHint === 'string' ? loginHint : '',
      });
    },

    async submit(req: Request, res: Response): Promise<void> {
      const { provider } = runtime();
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      const client = await provider.Client.find(String(details.params.client_id));
      const clientName = client?.clientName ?? client?.clientId;

      const body = (req.body ?? {}) as Record<string, unknown>;
      const login = typeof body.login === 'string' ? body.login.trim().slice(0, 254) : '';
      const password = typeof body.password === 'string' ? body.password : '';
      // "Keep me signed in": a persistent session cookie; otherwise it ends with the browser.
      const remember = body.remember === 'yes';

      const locals = { uid: details.uid, clientId: client?.clientId, clientName, login, remember };
      const origin = { clientId: client?.clientId, ...requestOrigin(req) };

      // The account is counted by who it is (its sub), however the login named it: by username
      // or email, in any case or look-alike the lookup folds to it. A login naming no account is
      // counted in the lookup's own canonical form.
      const resolved = login ? await users.resolveLogin(login) : { user: undefined, canonical: '' };
      const admission = await throttle.admit(resolved.user ? { sub: resolved.user.sub } : { login: resolved.canonical }, req.ip);
      if (!admission.admitted) {
        // Refused before any password check.
        // Anyone can repeat this at will: one row per lockout counts the refusals.
        const locked = resolved.user;
        await audit.recordRepeated(
          {
            event: 'login.failure',
            ...origin,
            accountId: locked?.sub,
            username: locked?.username,
            details: { reason: 'locked_out', scope: admission.scope, retry_after: admission.retryAfterSeconds },
          },
          { key: `login.failure:locked_out:${admission.lockKey}`, windowSeconds: admission.lockoutSeconds },
        );
        metrics.signIn('throttled');
        await lockedPage(res, locals, admission.retryAfterSeconds);
        return;
      }

      // After a progressive delay (earlier failures) the row is read again: a password changed
      // meanwhile must not let the old one in.
      const user = resolved.user && admission.attempt.number > 1 ? await users.findBySub(resolved.user.sub) : resolved.user;
      const check = await checkPassword(user, password);
      if (!user || !check.ok) {
        // An unknown login is not recorded as typed: it may be a password typed in the wrong field.
        const who = { ...origin, accountId: user?.sub, username: user?.username };
        await audit.record({ event: 'login.failure', ...who, details: { reason: 'bad_credentials' } });
        metrics.signIn('failure');
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          await audit.record({ event: 'login.locked', ...who, details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds } });
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length) await lockedPage(res, locals, Math.max(...lockouts.map((l) => l.retryAfterSeconds)));
        else await page(res, 401, { ...locals, error: t('login.error.invalid') });
        return;
      }
      // The right password ends the run of failures, even for a disabled account.
      await throttle.succeeded(admission.attempt);
      if (user.disabled) {
        await audit.record({ event: 'login.failure', ...origin, accountId: user.sub, username: user.username, details: { reason: 'disabled' } });
        metrics.signIn('disabled');
        await page(res, 403, { ...locals, error: t('login.error.disabled') });
        return;
      }
      // Self-registered and the address not yet confirmed (registration.ts): the right password is
      // told so, with a button to send the link again (throttled like every mail-sending form).
      if (user.verification_pending) {
        await audit.record({ event: 'login.failure', ...origin, accountId: user.sub, username: user.username, details: { reason: 'email_unverified' } });
        metrics.signIn('failure');
        await page(res, 403, { ...locals, error: t('login.error.unverified'), resendVerification: true });
        return;
      }
      if (check.outdated) await upgradeHash(user, password);
      // Signed in now (amr pwd), or on to the second factor (second_factor.ts).
      await secondFactor.afterPassword(req, res, details, user, remember);
    },
  };
}
