import type { Request, Response } from 'express';
import type { Runtime } from '../oidc/provider_host.js';
import type { Metrics } from '../http/metrics.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import { verifyPassword } from '../accounts/passwords.js';
import type { LoginThrottle, Lockout } from '../accounts/login_throttle.js';
import type { RenderPage } from '../http/render_page.js';
import type { Logger } from '../log.js';
import { WrongPrompt } from './interaction_errors.js';

// The login step: one message and one status for an unknown user, a wrong password and a
// disabled account without the right password, and the same argon2 work for each. Repeated
// failures slow the next attempt down and then lock the login (or the client IP) for a while:
// a locked attempt gets 429 without its password being checked.

export interface LoginDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  metrics: Pick<Metrics, 'signIn' | 'lockout'>;
  users: UsersRepo;
  throttle: LoginThrottle;
  render: RenderPage;
  log: Logger;
}

const INVALID = 'The username or password is incorrect.';
const DISABLED = 'This account is disabled. Contact your administrator.';
const lockedMessage = (seconds: number) => {
  const minutes = Math.ceil(seconds / 60);
  return `Too many failed sign-ins. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
};

type PageLocals = { uid: string; clientName: string | undefined; login: string; error?: string };

export function createLogin({ runtime, metrics, users, throttle, render, log }: LoginDeps) {
  async function page(res: Response, status: number, locals: PageLocals) {
    res.status(status).type('html').send(await render('login', { error: undefined, ...locals }));
  }

  async function lockedPage(res: Response, locals: PageLocals, retryAfterSeconds: number) {
    res.set('retry-after', String(retryAfterSeconds));
    await page(res, 429, { ...locals, error: lockedMessage(retryAfterSeconds) });
  }

  return {
    async show(res: Response, uid: string, clientName: string | undefined, loginHint: unknown) {
      await page(res, 200, { uid, clientName, login: typeof loginHint === 'string' ? loginHint : '' });
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

      const locals = { uid: details.uid, clientName, login };

      const admission = await throttle.admit(login, req.ip);
      if (!admission.admitted) {
        log.info({ event: 'login.throttled', client_id: client?.clientId, reason: admission.scope, retry_after: admission.retryAfterSeconds }, 'sign-in refused: locked out after too many failures');
        metrics.signIn('throttled');
        await lockedPage(res, locals, admission.retryAfterSeconds);
        return;
      }

      const user = login ? await users.findByLogin(login) : undefined;
      const ok = await verifyPassword(user?.password_hash, password);
      if (!user || !ok) {
        log.info({ event: 'login.failure', client_id: client?.clientId, reason: user ? 'bad_password' : 'unknown_user' }, 'sign-in failed');
        metrics.signIn('failure');
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          log.warn({ event: 'login.locked', client_id: client?.clientId, reason: lockout.scope, ...lockedWho(lockout, user?.sub, req.ip), lockout_seconds: lockout.retryAfterSeconds }, 'sign-in locked out after too many failures');
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length) await lockedPage(res, locals, Math.max(...lockouts.map((l) => l.retryAfterSeconds)));
        else await page(res, 401, { ...locals, error: INVALID });
        return;
      }
      // The right password ends the run of failures, even for a disabled account.
      await throttle.succeeded(admission.attempt);
      if (user.disabled) {
        log.info({ event: 'login.failure', client_id: client?.clientId, sub: user.sub, reason: 'disabled' }, 'sign-in refused');
        metrics.signIn('disabled');
        await page(res, 403, { ...locals, error: DISABLED });
        return;
      }
      log.info({ event: 'login.success', client_id: client?.clientId, sub: user.sub }, 'signed in');
      metrics.signIn('success');
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.sub, amr: ['pwd'], ts: Math.floor(Date.now() / 1000) } },
        { mergeWithLastSubmission: false },
      );
    },
  };
}

/** Who was locked, for the operator: the account's subject if it exists, or the client IP. */
function lockedWho(lockout: Lockout, sub: string | undefined, ip: string | undefined): Record<string, string> {
  if (lockout.scope === 'ip') return ip ? { ip } : {};
  return sub ? { sub } : {};
}
