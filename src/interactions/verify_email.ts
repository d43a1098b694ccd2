import type { Request, Response } from 'express';
import type { Runtime } from '../provider/provider_host.js';
import type { User, UsersRepo } from '../accounts/users_repo.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { SecondFactorStep } from './second_factor.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import { t } from '../i18n/page_language.js';

// The mailed verification link of a self-registered account (registration.ts). Opening it
// (GET) changes nothing — mail scanners open links — and shows a button; pressing it (POST)
// uses the single-use token, sets `email_verified: true` and lifts the pending mark. When this
// browser is still in the sign-in that registered (its interaction cookie names the token's
// interaction), the sign-in continues to the application; otherwise a page says the address is
// verified. The login page's "send the link again" posts to resend(), which answers the same
// page whoever the login names, sending only to a pending account (throttled per IP).

export interface VerifyEmailDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  users: Pick<UsersRepo, 'confirmEmail' | 'resolveLogin'>;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record'>;
  selfServiceMail: Pick<SelfServiceMail, 'sendVerification' | 'peekLink' | 'consumeLink'>;
  registrationLimit: (ip: string | undefined) => Promise<number | undefined>;
  mailThrottle: Pick<MailThrottle, 'consume'>;
}

export const VERIFY_EMAIL_PURPOSE = 'verify-email';
const tokenOf = (value: unknown) => (typeof value === 'string' && value.length <= 64 ? value : '');

export function createVerifyEmail(deps: VerifyEmailDeps, secondFactor: Pick<SecondFactorStep, 'afterPassword'>) {
  async function message(res: Response, status: number, heading: string, text: string, link?: { href: string; text: string }) {
    res
      .status(status)
      .type('html')
      .send(await deps.render('account_message', { heading, message: text, link }));
  }
  const expired = (res: Response) =>
    message(res, 400, t('verify_email.expired_heading'), t('verify_email.expired_message'), { href: '/account', text: t('verify_email.sign_in') });

  /** The interaction this browser is in, when it is the token's and still at the login step. */
  async function liveInteraction(req: Request, res: Response, uid: string | undefined) {
    if (!uid || req.params.uid !== uid) return undefined;
    try {
      const details = await deps.runtime().provider.interactionDetails(req, res);
      return details.uid === uid && details.prompt.name === 'login' ? details : undefined;
    } catch {
      return undefined; // no interaction cookie, or the sign-in ended
    }
  }

  return {
    async show(req: Request, res: Response): Promise<void> {
      const token = tokenOf(req.query.token);
      const link = token ? await deps.selfServiceMail.peekLink('verify_email', token) : undefined;
      if (!link) return expired(res);
      res
        .status(200)
        .type('html')
        .send(
          await deps.render('verify_email', {
            token,
            csrfToken: deps.csrf.issue(VERIFY_EMAIL_PURPOSE, token),
            email: link.email,
            // Posted under the sign-in's path, so this browser's interaction cookie (scoped to
            // it) comes along when it is the browser that registered.
            action: link.uid ? `/interaction/${encodeURIComponent(link.uid)}/verify-email` : '/verify-email',
          }),
        );
    },

    async confirm(req: Request, res: Response): Promise<void> {
      const token = tokenOf((req.body as Record<string, unknown> | undefined)?.token);
      const link = token ? await deps.selfServiceMail.consumeLink('verify_email', token) : undefined;
      if (!link) return expired(res);
      const user: User | undefined = await deps.users.confirmEmail(link.sub, link.email);
      if (!user) return expired(res); // the address changed since the link was sent
      await deps.audit.record({
        event: 'email.verified',
        ...requestOrigin(req),
        accountId: user.sub,
        username: user.username,
        details: { purpose: 'registration' },
      });
      const details = await liveInteraction(req, res, link.uid);
      if (details && !user.disabled) {
        await secondFactor.afterPassword(req, res, details, user, false);
        return;
      }
      await message(res, 200, t('verify_email.verified_heading'), t('verify_email.verified_message', { email: user.email ?? '' }), {
        href: '/account',
        text: t('verify_email.sign_in'),
      });
    },

    async resend(req: Request, res: Response): Promise<void> {
      const uid = String(req.params.uid);
      const raw = (req.body as Record<string, unknown> | undefined)?.login;
      const login = typeof raw === 'string' ? raw.trim().slice(0, 254) : '';
      const wait = await deps.registrationLimit(req.ip);
      if (wait === undefined && login) {
        const { user } = await deps.users.resolveLogin(login);
        const pending = user?.verification_pending && user.email && !user.disabled ? user : undefined;
        if (pending && (await deps.mailThrottle.consume('verify_email', { sub: pending.sub }, undefined)).allowed) {
          await deps.selfServiceMail.sendVerification(pending, uid);
          await deps.audit.record({
            event: 'email.verification_sent',
            ...requestOrigin(req),
            accountId: pending.sub,
            username: pending.username,
            details: { resend: true },
          });
        }
      }
      res
        .status(200)
        .type('html')
        .send(
          await deps.render('check_mail', {
            heading: t('check_mail.heading'),
            message: t('check_mail.resent'),
            uid,
          }),
        );
    },
  };
}
