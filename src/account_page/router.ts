import express, { type Request, type Response } from 'express';
import type { Env } from '../config/env.js';
import type { Db } from '../db/db.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import { requireCsrfToken, type Csrf } from '../http/csrf.js';
import { hostedForm, noStore, wrap } from '../http/hosted_forms.js';
import { setRetryAfter } from '../http/retry_after.js';
import { GatehouseError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { RenderPage } from '../pages/render_page.js';
import { createAccountSessions } from '../storage/account_sessions.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import type { Runtime } from '../provider/provider_host.js';
import { ACCOUNT_CALLBACK_PATH } from '../config/account_client.js';
import { createAccountSignIn, type CallbackFailure } from './account_sign_in.js';
import { clearSessionCookie, findSignedInSession, type SignedInSession } from './signed_in_session.js';
import { ACCOUNT_FORMS, NOTICES, createAccountView, type Notice } from './account_view.js';
import { createAccountActions, type Actor } from './account_actions.js';
import { createPasswordChanger } from './change_password.js';
import type { UpstreamIdentities } from '../accounts/upstream_identities.js';
import type { FederatedSignIn } from '../federation/federated_sign_in.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import { createSecondFactorForms } from './second_factor_forms.js';
import { createPasskeyActions } from './passkey_actions.js';
import { cleanPasskeyName, type PasskeyCeremonies } from '../passkeys/passkey_ceremonies.js';
import type { PasskeysRepo } from '../storage/passkeys_repo.js';
import { hostedJson } from '../http/json_body.js';
import { createProfileForms } from './profile_forms.js';
import type { SecurityNotice, SelfServiceMail } from '../accounts/self_service_mail.js';
import type { Logger } from '../core/log.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import { t } from '../i18n/page_language.js';
import type { MessageParams } from '../i18n/catalogues.js';

// /account — the signed-in user's own page (Keycloak's account console, without JavaScript):
// profile, sessions, applications, password, sign-out everywhere and recent security events.
// Who is signed in is decided by the provider's session cookie alone; without one the browser is
// sent through the ordinary sign-in (account_sign_in.ts). Every POST carries a CSRF token bound
// to the session and the form, and answers with a redirect back (POST-redirect-GET) or, for a
// problem, a 4xx page. Nothing here is cached.

export interface AccountRouterDeps {
  env: Pick<Env, 'issuer' | 'secureCookies'>;
  db: Db;
  users: UsersRepo;
  throttle: LoginThrottle;
  render: RenderPage;
  metrics: Pick<Metrics, 'lockout'>;
  csrf: Csrf;
  audit: AuditLog;
  backchannel: Pick<BackchannelQueue, 'send'>;
  runtime: () => Pick<Runtime, 'provider' | 'resources' | 'scopeClaims'>;
  identities: Pick<UpstreamIdentities, 'listFor' | 'unlink'>;
  federation: Pick<FederatedSignIn, 'upstreamName'>;
  mfa: SecondFactors;
  passkeys: PasskeyCeremonies;
  passkeysRepo: PasskeysRepo;
  /** the e-mail change link and the security notices (app/self_service_mail.ts) */
  selfServiceMail: SelfServiceMail;
  log: Logger;
  mailThrottle: MailThrottle;
  /** per-IP limit on the mail-sending account forms */
  registrationLimit: (ip: string | undefined) => Promise<number | undefined>;
}

/** A form posted by a browser that is no longer signed in: shown as "Sign-in required". */
class NotSignedIn extends GatehouseError {
  constructor() {
    super('ERR_NOT_SIGNED_IN', 'the account form was posted without a signed-in session', { status: 401, error: 'login_required' });
  }
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const MAX_CLIENT_ID = 255;
const PASSKEY_ID = /^[A-Za-z0-9_-]{1,1400}$/;

/** The status of each failed return from signing in; the page says `account.callback.<failure>`. */
const CALLBACK_STATUS: Record<CallbackFailure, number> = { expired: 400, cancelled: 401, refused: 400, invalid_code: 400, no_session: 400 };

export function createAccountRouter(deps: AccountRouterDeps): express.Router {
  const router = express.Router();
  const sessions = createAccountSessions(deps.db);
  const signIn = createAccountSignIn({ issuer: deps.env.issuer, secureCookies: deps.env.secureCookies, csrf: deps.csrf });
  const view = createAccountView({ ...deps, sessions, upstreamName: deps.federation.upstreamName });
  const actions = createAccountActions({ ...deps, sessions });
  const changePassword = createPasswordChanger({ ...deps, sessions });
  const secondFactorForms = createSecondFactorForms(deps);
  // Security notices by mail (a password changed, a second factor added): a failure to queue one
  // is logged, never the action's failure.
  const notify = async (sub: string, notice: SecurityNotice) => {
    try {
      const user = await deps.users.findBySub(sub);
      if (user) await deps.selfServiceMail.sendNotice(user, notice);
    } catch (error) {
      deps.log.warn({ event: 'mail.notice_failed', notice, err: error }, 'could not queue a security notice mail');
    }
  };
  const passkeyActions = createPasskeyActions({ ...deps, notify });
  const profileForms = createProfileForms(deps);
  const provider = () => deps.runtime().provider;

  /** A page of `heading` and `message` from the catalogue's `<key>.heading` and `<key>.message`. */
  async function message(res: Response, status: number, key: string, link?: { href: string; text: string }, params?: MessageParams) {
    const heading = t(`${key}.heading`);
    const text = t(`${key}.message`, params);
    res
      .status(status)
      .type('html')
      .send(await deps.render('account_message', { heading, message: text, link }));
  }
  const backToAccount = () => ({ href: '/account', text: t('account.message.back') });

  /** The session the CSRF check found (it runs first on every POST). */
  const signedIn = (res: Response): SignedInSession => res.locals.accountSession as SignedInSession;
  const actor = (req: Request, res: Response): Actor => ({ accountId: signedIn(res).accountId, ...requestOrigin(req) });

  const csrf = (purpose: string) =>
    requireCsrfToken(deps.csrf, {
      purpose,
      bindingOf: async (req, res) => {
        const session = await findSignedInSession(provider(), req, res, deps.env.secureCookies);
        res.locals.accountSession = session;
        return session?.uid;
      },
      // Signed out meanwhile (elsewhere, or the session expired): say that rather than "form expired".
      beforeRefusing: (_req, res) => (res.locals.accountSession ? Promise.resolve() : Promise.reject(new NotSignedIn())),
    });

  async function unavailable(res: Response) {
    clearSessionCookie(provider(), res, deps.env.secureCookies);
    await message(res, 403, 'account.error.unavailable');
  }

  router.get(
    '/account',
    noStore,
    wrap(async (req, res) => {
      const session = await findSignedInSession(provider(), req, res, deps.env.secureCookies);
      if (!session) {
        signIn.start(provider(), res);
        return;
      }
      const done = typeof req.query.done === 'string' && Object.hasOwn(NOTICES, req.query.done) ? t(NOTICES[req.query.done as Notice]) : undefined;
      if (!(await view.render(res, session, 200, { notice: done }))) await unavailable(res);
    }),
  );

  router.get(
    ACCOUNT_CALLBACK_PATH,
    noStore,
    wrap(async (req, res) => {
      const outcome = await signIn.callback(provider(), req, res);
      if (outcome.ok) {
        res.redirect(303, '/account');
        return;
      }
      await message(res, CALLBACK_STATUS[outcome.failure], `account.callback.${outcome.failure}`, { href: '/account', text: t('account.callback.sign_in') });
    }),
  );

  router.get(
    '/account/signed-out',
    noStore,
    wrap(async (_req, res) => {
      await message(res, 200, 'account.signed_out', { href: '/account', text: t('account.signed_out.sign_in') });
    }),
  );

  router.post(
    '/account/sessions/end',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.endSession),
    wrap(async (req, res) => {
      const id = (req.body as Record<string, unknown> | undefined)?.session;
      if (typeof id !== 'string' || !SESSION_ID.test(id)) return message(res, 400, 'account.error.unknown_session', backToAccount());
      const current = id === signedIn(res).key;
      if (!(await actions.endSession(actor(req, res), id, current))) {
        return message(res, 404, 'account.error.session_not_found', backToAccount());
      }
      if (!current) {
        res.redirect(303, '/account?done=session-ended');
        return;
      }
      clearSessionCookie(provider(), res, deps.env.secureCookies);
      res.redirect(303, '/account/signed-out');
    }),
  );

  router.post(
    '/account/sign-out-everywhere',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.signOutEverywhere),
    wrap(async (req, res) => {
      await actions.signOutEverywhere(actor(req, res));
      clearSessionCookie(provider(), res, deps.env.secureCookies);
      res.redirect(303, '/account/signed-out');
    }),
  );

  router.post(
    '/account/apps/revoke',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.revokeApp),
    wrap(async (req, res) => {
      const clientId = (req.body as Record<string, unknown> | undefined)?.client_id;
      if (typeof clientId !== 'string' || !clientId || clientId.length > MAX_CLIENT_ID) {
        return message(res, 400, 'account.error.unknown_app', backToAccount());
      }
      if (!(await actions.revokeApp(actor(req, res), clientId))) {
        return message(res, 404, 'account.error.nothing_to_revoke', backToAccount());
      }
      res.redirect(303, '/account?done=app-revoked');
    }),
  );

  router.post(
    '/account/identities/unlink',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.unlinkIdentity),
    wrap(async (req, res) => {
      const id = (req.body as Record<string, unknown> | undefined)?.identity;
      const who = actor(req, res);
      const result = typeof id === 'string' ? await deps.identities.unlink(who.accountId, id) : 'not_found';
      if (result === 'not_found') return message(res, 404, 'account.error.not_linked', backToAccount());
      if (result === 'last_sign_in') {
        return message(res, 409, 'account.error.cannot_unlink', backToAccount());
      }
      await deps.audit.record({ event: 'upstream.unlinked', ...who, details: { identity: id } });
      res.redirect(303, '/account?done=identity-unlinked');
    }),
  );

  router.post(
    '/account/password',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.changePassword),
    wrap(async (req, res) => {
      const session = signedIn(res);
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return unavailable(res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const result = await changePassword(user, actor(req, res), session.key, {
        current: body.current_password,
        next: body.new_password,
        confirm: body.confirm_password,
      });
      if (result.ok) {
        await notify(user.sub, 'password_changed');
        res.redirect(303, '/account?done=password-changed');
        return;
      }
      if (result.retryAfterSeconds) setRetryAfter(res, result.retryAfterSeconds);
      if (!(await view.render(res, session, result.status, { passwordError: result.message }))) await unavailable(res);
    }),
  );

  // Profile: the name claims; a new e-mail address (a link to it, a notice to the old one).
  router.post(
    '/account/profile',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.editProfile),
    wrap(async (req, res) => {
      const session = signedIn(res);
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return unavailable(res);
      const result = await profileForms.update(user, actor(req, res), (req.body ?? {}) as Record<string, unknown>);
      if (result.ok) {
        res.redirect(303, '/account?done=profile-updated');
        return;
      }
      if (!(await view.render(res, session, 400, { profileErrors: result.errors }))) await unavailable(res);
    }),
  );

  router.post(
    '/account/email',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.changeEmail),
    wrap(async (req, res) => {
      const session = signedIn(res);
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return unavailable(res);
      const result = await profileForms.requestEmailChange(user, actor(req, res), (req.body as Record<string, unknown> | undefined)?.email);
      if (result.ok) {
        res.redirect(303, '/account?done=email-change-sent');
        return;
      }
      if (result.retryAfterSeconds) setRetryAfter(res, result.retryAfterSeconds);
      if (!(await view.render(res, session, result.status, { profileErrors: { email: result.message } }))) await unavailable(res);
    }),
  );

  // The link mailed to a new address: GET shows a button (mail scanners open links), POST uses it.
  router.get(
    '/account/email/confirm',
    noStore,
    wrap(async (req, res) => {
      const token = typeof req.query.token === 'string' ? req.query.token.slice(0, 64) : '';
      const link = token ? await deps.selfServiceMail.peekLink('change_email', token) : undefined;
      if (!link) return message(res, 400, 'account.error.link_expired', backToAccount());
      res
        .status(200)
        .type('html')
        .send(await deps.render('confirm_email_change', { token, email: link.email, csrfToken: deps.csrf.issue(ACCOUNT_FORMS.changeEmail, token) }));
    }),
  );
  router.post(
    '/account/email/confirm',
    noStore,
    hostedForm,
    requireCsrfToken(deps.csrf, {
      purpose: ACCOUNT_FORMS.changeEmail,
      bindingOf: (req) => {
        const token = (req.body as Record<string, unknown> | undefined)?.token;
        return typeof token === 'string' ? token : undefined;
      },
    }),
    wrap(async (req, res) => {
      const token = String((req.body as Record<string, unknown>).token);
      const outcome = await profileForms.confirmEmailChange(token, requestOrigin(req));
      if (outcome === 'expired') return message(res, 400, 'account.error.link_expired', backToAccount());
      if (outcome === 'taken') return message(res, 409, 'account.error.address_taken', backToAccount());
      await message(res, 200, 'account.email_changed', backToAccount(), { email: outcome.email ?? '' });
    }),
  );

  // Two-step verification: set up (then confirm with a code) or remove an authenticator app,
  // and create recovery codes (shown on that response only). Each is audited.
  router.post(
    '/account/mfa/totp/start',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.totpStart),
    wrap(async (_req, res) => {
      const user = await deps.users.findBySub(signedIn(res).accountId);
      if (!user || user.disabled) return unavailable(res);
      await deps.mfa.startTotp(user.sub, user.username);
      res.redirect(303, '/account#second-factors-title');
    }),
  );

  router.post(
    '/account/mfa/totp/confirm',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.totpConfirm),
    wrap(async (req, res) => {
      const session = signedIn(res);
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return unavailable(res);
      const code = (req.body as Record<string, unknown> | undefined)?.code;
      const result = await secondFactorForms.confirmTotp(user, actor(req, res), typeof code === 'string' ? code : '');
      if (result.ok) {
        await notify(user.sub, 'totp_enrolled');
        res.redirect(303, '/account?done=totp-enrolled');
        return;
      }
      if (result.retryAfterSeconds) setRetryAfter(res, result.retryAfterSeconds);
      if (!(await view.render(res, session, result.status, { totpError: result.message }))) await unavailable(res);
    }),
  );

  router.post(
    '/account/mfa/totp/remove',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.totpRemove),
    wrap(async (req, res) => {
      const session = signedIn(res);
      const user = await deps.users.findBySub(session.accountId);
      if (!user || user.disabled) return unavailable(res);
      const code = (req.body as Record<string, unknown> | undefined)?.code;
      const result = await secondFactorForms.removeTotp(user, actor(req, res), typeof code === 'string' ? code.slice(0, 64) : '');
      if (result.ok) {
        res.redirect(303, '/account?done=totp-removed');
        return;
      }
      if (result.retryAfterSeconds) setRetryAfter(res, result.retryAfterSeconds);
      if (!(await view.render(res, session, result.status, { totpError: result.message }))) await unavailable(res);
    }),
  );

  router.post(
    '/account/mfa/recovery-codes',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.recoveryCodes),
    wrap(async (req, res) => {
      const session = signedIn(res);
      if (!(await deps.mfa.status(session.accountId)).any) {
        return message(res, 409, 'account.error.no_second_factor', backToAccount());
      }
      const codes = await deps.mfa.regenerateRecoveryCodes(session.accountId);
      await deps.audit.record({ event: 'mfa.recovery_codes.generated', ...actor(req, res), details: { count: codes.length } });
      if (!(await view.render(res, session, 200, { recoveryCodes: codes }))) await unavailable(res);
    }),
  );

  // Adding a passkey: the page's script (views/static/passkeys.js) asks for options, then posts
  // the authenticator's response with the name typed for it; both answer JSON.
  router.post(
    '/account/passkeys/options',
    noStore,
    hostedJson,
    csrf(ACCOUNT_FORMS.addPasskey),
    wrap(async (req, res) => passkeyActions.options(res, actor(req, res), signedIn(res).uid, (req.body ?? {}) as Record<string, unknown>)),
  );
  router.post(
    '/account/passkeys',
    noStore,
    hostedJson,
    csrf(ACCOUNT_FORMS.addPasskey),
    wrap(async (req, res) => passkeyActions.register(res, actor(req, res), signedIn(res).uid, (req.body ?? {}) as Record<string, unknown>)),
  );

  router.post(
    '/account/passkeys/rename',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.renamePasskey),
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const name = cleanPasskeyName(body.name);
      if (typeof body.passkey !== 'string' || !PASSKEY_ID.test(body.passkey)) return message(res, 400, 'account.error.unknown_passkey', backToAccount());
      if (!name) return message(res, 400, 'account.error.bad_passkey_name', backToAccount(), { max: 64 });
      if (!(await passkeyActions.rename(actor(req, res), body.passkey, name))) {
        return message(res, 404, 'account.error.passkey_not_found', backToAccount());
      }
      res.redirect(303, '/account?done=passkey-renamed');
    }),
  );

  router.post(
    '/account/passkeys/remove',
    noStore,
    hostedForm,
    csrf(ACCOUNT_FORMS.removePasskey),
    wrap(async (req, res) => {
      const id = (req.body as Record<string, unknown> | undefined)?.passkey;
      if (typeof id !== 'string' || !PASSKEY_ID.test(id)) return message(res, 400, 'account.error.unknown_passkey', backToAccount());
      if (!(await passkeyActions.remove(actor(req, res), id))) {
        return message(res, 404, 'account.error.passkey_not_found', backToAccount());
      }
      res.redirect(303, '/account?done=passkey-removed');
    }),
  );

  return router;
}
