import type { Request, Response } from 'express';
import type { Runtime } from '../oidc/provider_host.js';
import type { Metrics } from '../http/metrics.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import { verifyPassword } from '../accounts/passwords.js';
import type { RenderPage } from '../http/render_page.js';
import type { Logger } from '../log.js';
import { WrongPrompt } from './interaction_errors.js';

// The login step: one message and one status for an unknown user, a wrong password and a
// disabled account without the right password, and the same argon2 work for each.

export interface LoginDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  metrics: Pick<Metrics, 'signIn'>;
  users: UsersRepo;
  render: RenderPage;
  log: Logger;
}

const INVALID = 'The username or password is incorrect.';
const DISABLED = 'This account is disabled. Contact your administrator.';

export function createLogin({ runtime, metrics, users, render, log }: LoginDeps) {
  async function page(res: Response, status: number, locals: { uid: string; clientName: string | undefined; login: string; error?: string }) {
    res.status(status).type('html').send(await render('login', { error: undefined, ...locals }));
  }

  return {
    async show(req: Request, res: Response, uid: string, clientName: string | undefined, loginHint: unknown) {
      void req;
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

      const user = login ? await users.findByLogin(login) : undefined;
      const ok = await verifyPassword(user?.password_hash, password);
      if (!user || !ok) {
        log.info({ event: 'login.failure', client_id: client?.clientId, reason: user ? 'bad_password' : 'unknown_user' }, 'sign-in failed');
        metrics.signIn('failure');
        await page(res, 401, { uid: details.uid, clientName, login, error: INVALID });
        return;
      }
      if (user.disabled) {
        log.info({ event: 'login.failure', client_id: client?.clientId, sub: user.sub, reason: 'disabled' }, 'sign-in refused');
        metrics.signIn('disabled');
        await page(res, 403, { uid: details.uid, clientName, login, error: DISABLED });
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
