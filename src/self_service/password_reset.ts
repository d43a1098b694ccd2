import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Env } from '../config/env.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import type { User, UsersRepo } from '../accounts/users_repo.js';
import { describePasswordProblem, findPasswordProblem } from '../accounts/password_policy.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { Csrf } from '../http/csrf.js';
import { hostedForm, noStore, wrap } from '../http/hosted_forms.js';
import { setRetryAfter } from '../http/retry_after.js';
import type { RenderPage } from '../pages/render_page.js';
import { consumeLinkToken, createLinkToken, peekLinkToken, type LinkPurpose } from '../storage/link_tokens.js';
import { createAccountSessions } from '../storage/account_sessions.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import { createPasswordReplacer } from '../logout/replace_password.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import type { Mailer } from '../mail/mailer.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import type { Runtime } from '../provider/provider_host.js';
import { pageLocale, recipientLocale, t, useUiLocales } from '../i18n/page_language.js';

// Forgotten passwords (#16) and invitations (`gatehouse users invite`): pages reached by a mailed,
// single-use link (storage/link_tokens.ts) where the user sets a password.
//
// /forgot-password answers the same page whatever the address: known or not, the request does
// the same lookup and the same throttle counting, and the link is made and mailed after the
// answer, in the background, so neither the page nor its timing tells which addresses exist.
// The link lives 30 minutes, works once, and dies when a newer one is sent or the password
// changes (users_repo.setPasswordHash). Setting the password through it is a password change
// like any other (logout/replace_password.ts): every session ends and every grant is revoked,
// with back-channel logouts sent.
//
// Links carry the token in the query string, which the request log never shows (logged_path.ts).

export const RESET_TTL_SECONDS = 30 * 60;
export const INVITATION_TTL_SECONDS = 7 * 86400;

export interface PasswordResetDeps {
  env: Env;
  db: Db;
  log: Logger;
  users: UsersRepo;
  render: RenderPage;
  csrf: Csrf;
  audit: AuditLog;
  backchannel: Pick<BackchannelQueue, 'send'>;
  mailer: Mailer;
  mailThrottle: MailThrottle;
  /** the "your password was changed" notice after a reset */
  selfServiceMail: Pick<SelfServiceMail, 'sendNotice'>;
  runtime: () => Runtime;
}

const FORM_COOKIE = 'gatehouse.form';
const text = (value: unknown) => (typeof value === 'string' ? value : '');
const UID = /^[A-Za-z0-9_-]{1,64}$/;

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

/** The lookup form of a typed address: what the per-address throttle counts for an unknown one. */
const addressKey = (email: string) => email.trim().toLowerCase();

interface LinkPage {
  purpose: LinkPurpose;
  path: string;
  /** the catalogue's keys of its title and lead: `<page>.title`, `<page>.lead` */
  page: string;
  failedEvent: 'password_reset.failed' | 'invitation.failed';
  doneEvent: 'password_reset.completed' | 'invitation.accepted';
}

const PAGES: Record<'reset' | 'invitation', LinkPage> = {
  reset: {
    purpose: 'password_reset',
    path: '/reset-password',
    page: 'set_password.reset',
    failedEvent: 'password_reset.failed',
    doneEvent: 'password_reset.completed',
  },
  invitation: {
    purpose: 'invitation',
    path: '/invitation',
    page: 'set_password.invitation',
    failedEvent: 'invitation.failed',
    doneEvent: 'invitation.accepted',
  },
};

export function createPasswordResetRouter(deps: PasswordResetDeps): express.Router {
  const { db, users, render, csrf, audit, log } = deps;
  const router = express.Router();
  const sessions = createAccountSessions(db);
  const replacePassword = createPasswordReplacer({ users, sessions, notify: (notices) => deps.backchannel.send(notices) });
  const enabled = () => deps.runtime().selfService.password_reset;
  const secure = deps.env.secureCookies;

  /** The form's CSRF binding: a random cookie of this browser (the form has no session to bind to). */
  function formBinding(req: Request, res: Response): string {
    const existing = readCookie(req, FORM_COOKIE);
    if (existing && /^[A-Za-z0-9_-]{22}$/.test(existing)) return existing;
    const fresh = randomBytes(16).toString('base64url');
    res.cookie(FORM_COOKIE, fresh, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
    return fresh;
  }

  async function page(res: Response, status: number, view: string, locals: Record<string, unknown>) {
    res
      .status(status)
      .type('html')
      .send(await render(view, locals));
  }
  /** A page of the catalogue's `<key>.heading` and `<key>.message`. */
  const message = (res: Response, status: number, key: string, link?: { href: string; text: string }) =>
    page(res, status, 'account_message', { heading: t(`${key}.heading`), message: t(`${key}.message`), link });

  /** The sign-in this page was reached from, while it lasts; its pages speak its ui_locales. */
  async function interactionAlive(uid: unknown): Promise<string | undefined> {
    if (typeof uid !== 'string' || !UID.test(uid)) return undefined;
    const interaction = await deps.runtime().provider.Interaction.find(uid);
    if (interaction) useUiLocales(interaction.params.ui_locales);
    return interaction ? uid : undefined;
  }

  async function forgotForm(req: Request, res: Response, status = 200, error?: string) {
    const interaction = await interactionAlive(req.query.interaction);
    await page(res, status, 'forgot_password', { csrfToken: csrf.issue('forgot_password', formBinding(req, res)), interaction, error, email: '' });
  }

  // Made after the answer: the known address's extra work (a token, a message) never shows in it.
  async function sendResetLink(user: User, interaction: string | undefined, origin: ReturnType<typeof requestOrigin>) {
    if (!user.email || user.disabled) return;
    const token = await createLinkToken(db, {
      purpose: 'password_reset',
      sub: user.sub,
      ttlSeconds: RESET_TTL_SECONDS,
      data: interaction ? { interaction } : {},
    });
    const link = `${deps.env.issuer}/reset-password?token=${token}`;
    // To the account's owner, in the language they read when known: the request may come from anyone.
    await deps.mailer.send({
      to: user.email,
      template: 'password_reset',
      sub: user.sub,
      locale: recipientLocale(user.locale),
      locals: { link, name: user.name ?? '', username: user.username },
    });
    await audit.record({ event: 'password_reset.requested', accountId: user.sub, username: user.username, ...origin });
  }

  router.get(
    '/forgot-password',
    noStore,
    wrap(async (req, res) => {
      if (!enabled()) return message(res, 404, 'forgot_password.disabled');
      await forgotForm(req, res);
    }),
  );

  router.post(
    '/forgot-password',
    noStore,
    hostedForm,
    wrap(async (req, res) => {
      if (!enabled()) return message(res, 404, 'forgot_password.disabled');
      const body = (req.body ?? {}) as Record<string, unknown>;
      const binding = readCookie(req, FORM_COOKIE);
      if (!binding || !csrf.verify('forgot_password', binding, body.csrf_token)) return forgotForm(req, res, 403, t('forgot_password.error.expired'));
      const email = text(body.email).trim();
      if (!email || email.length > 254 || !email.includes('@')) return forgotForm(req, res, 400, t('forgot_password.error.email'));
      const origin = requestOrigin(req);
      const user = await users.findByEmail(email);
      const verdict = await deps.mailThrottle.consume('password_reset', user ? { sub: user.sub } : { login: addressKey(email) }, origin.ip);
      if (!verdict.allowed) {
        await audit.record({ event: 'password_reset.throttled', accountId: user?.sub, username: user?.username, ...origin, details: { scope: verdict.scope } });
        if (verdict.scope === 'ip') {
          setRetryAfter(res, verdict.retryAfterSeconds);
          return message(res, 429, 'forgot_password.throttled');
        }
      }
      const interaction = await interactionAlive(body.interaction);
      await page(res, 200, 'forgot_password_sent', { interaction });
      if (user && verdict.allowed) {
        sendResetLink(user, interaction, origin).catch((error: unknown) => log.error({ err: error, sub: user.sub }, 'password reset mail could not be queued'));
      }
    }),
  );

  function linkRoutes(kind: 'reset' | 'invitation') {
    const spec = PAGES[kind];
    const invalid = (res: Response) =>
      kind === 'reset'
        ? message(res, 400, 'set_password.reset_expired', { href: '/forgot-password', text: t('set_password.send_new_link') })
        : message(res, 400, 'set_password.invitation_expired');
    const form = (res: Response, status: number, token: string, username: string, error?: string) =>
      page(res, status, 'set_password', {
        path: spec.path,
        title: t(`${spec.page}.title`),
        lead: t(`${spec.page}.lead`),
        button: t('set_password.submit'),
        token,
        username,
        error,
        csrfToken: csrf.issue(spec.purpose, token),
      });

    router.get(
      spec.path,
      noStore,
      wrap(async (req, res) => {
        const token = text(req.query.token);
        const live = kind === 'reset' && !enabled() ? undefined : await peekLinkToken(db, spec.purpose, token);
        const user = live && (await users.findBySub(live.sub));
        if (!live || !user || user.disabled) return invalid(res);
        await form(res, 200, token, user.username);
      }),
    );

    router.post(
      spec.path,
      noStore,
      hostedForm,
      wrap(async (req, res) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const token = text(body.token);
        const origin = requestOrigin(req);
        if (!csrf.verify(spec.purpose, token, body.csrf_token)) return invalid(res);
        const live = kind === 'reset' && !enabled() ? undefined : await peekLinkToken(db, spec.purpose, token);
        const user = live && (await users.findBySub(live.sub));
        if (!live || !user || user.disabled) {
          await audit.record({
            event: spec.failedEvent,
            accountId: user?.sub,
            username: user?.username,
            ...origin,
            details: { reason: user?.disabled ? 'disabled' : 'invalid_link' },
          });
          return invalid(res);
        }
        const password = text(body.password);
        const problem = await findPasswordProblem(password, { username: user.username, email: user.email });
        if (problem) {
          await audit.record({ event: spec.failedEvent, accountId: user.sub, username: user.username, ...origin, details: { reason: 'weak_password' } });
          return form(res, 400, token, user.username, t('set_password.error.rejected', { problem: describePasswordProblem(problem, t) }));
        }
        // The link is used up here, once: a second submission (or a race) finds it gone.
        const used = await consumeLinkToken(db, spec.purpose, token);
        if (!used) return invalid(res);
        const replaced = await replacePassword(user.sub, password);
        // Whoever follows the mailed link holds the mailbox: the language they read is the account's.
        await users.setLocale(user.sub, pageLocale());
        if (kind === 'invitation' && user.email) await users.markEmailVerified(user.sub, user.email);
        // A reset someone else started (with a mailbox they got into) is news to the owner too.
        if (kind === 'reset') await deps.selfServiceMail.sendNotice(user, 'password_changed').catch(() => undefined);
        await audit.record({
          event: spec.doneEvent,
          accountId: user.sub,
          username: user.username,
          ...origin,
          details: { sessions_ended: replaced.sessionsEnded, grants_revoked: replaced.grantsRevoked },
        });
        const interaction = await interactionAlive(used.data.interaction);
        await message(
          res,
          200,
          interaction ? 'set_password.done_continue' : 'set_password.done',
          interaction ? { href: `/interaction/${interaction}`, text: t('set_password.continue_signing_in') } : undefined,
        );
      }),
    );
  }
  linkRoutes('reset');
  linkRoutes('invitation');
  return router;
}
