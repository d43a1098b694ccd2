import type { Request, Response } from 'express';
import { errors } from 'oidc-provider';
import type { Runtime } from '../provider/provider_host.js';
import { UserError, type User, type UsersRepo } from '../accounts/users_repo.js';
import { emailSchema, usernameSchema } from '../accounts/user_schema.js';
import { describePasswordProblem, findPasswordProblem } from '../accounts/password_policy.js';
import { hashPassword } from '../accounts/passwords.js';
import { hasNul } from '../core/nul_characters.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import { GatehouseError } from '../core/errors.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { setRetryAfter } from '../http/retry_after.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import { WrongPrompt } from './interaction_errors.js';
import type { SecondFactorStep } from './second_factor.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import { pageLocale, t } from '../i18n/page_language.js';

// Self-service registration (config `self_service.registration: "open"`): the login page's
// "Create account" link leads to /interaction/:uid/register, a form with username, email, name
// and password (the password policy of `users add`; `allowed_email_domains` when set). Every
// problem is said per field with 400. A taken username has to be said (the person must choose
// another); a taken e-mail is not: that address gets a mail saying someone tried to register
// with it, and the registrant sees the same "check your mail" page as for a new account (the
// same argon2 work is done either way). With `email_verification` on, the new account is
// pending until the mailed link is followed (verify_email.ts); with it off, registering signs
// the person in and the sign-in continues to the application. Submissions are limited per
// client IP; each step is audited (registration.*).

export interface SelfServiceSettings {
  registration: 'off' | 'open' | 'invite';
  email_verification: boolean;
  allowed_email_domains: readonly string[];
}

/** Per-IP limit on registration posts: undefined when admitted, else seconds to wait. */
export type RegistrationLimit = (ip: string | undefined) => Promise<number | undefined>;

export interface RegistrationDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  users: Pick<UsersRepo, 'register' | 'findByUsername' | 'findByEmail'>;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record'>;
  selfService: () => SelfServiceSettings;
  selfServiceMail: Pick<SelfServiceMail, 'sendVerification' | 'sendAlreadyRegistered' | 'peekLink' | 'consumeLink'>;
  registrationLimit: RegistrationLimit;
  /** per-address limit of the mails these forms send (the IP is counted by registrationLimit) */
  mailThrottle: Pick<MailThrottle, 'consume'>;
}

/** Registration is off (or by invitation only): the page does not exist. */
export class RegistrationClosed extends GatehouseError {
  constructor() {
    super('ERR_REQUEST_REFUSED', 'self-service registration is not open', { status: 404, error: 'not_found' });
  }
}

type Field = 'username' | 'email' | 'name' | 'password';
type FieldErrors = Partial<Record<Field, string>>;
const FIELDS: readonly Field[] = ['username', 'email', 'name', 'password'];

/** The username's first problem in words ("Username must not be empty."), or undefined. */
function usernameError(username: string): string | undefined {
  const issue = usernameSchema.safeParse(username).error?.issues[0];
  if (!issue) return undefined;
  return t(
    issue.code === 'too_small'
      ? 'register.error.username_empty'
      : issue.code === 'too_big'
        ? 'register.error.username_too_long'
        : 'register.error.username_characters',
  );
}

const text = (value: unknown, max: number) => (typeof value === 'string' ? value.slice(0, max) : '');

/** The e-mail's domain (after the last @), lower-cased as the config's domains are. */
const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

export function createRegistration(deps: RegistrationDeps, secondFactor: Pick<SecondFactorStep, 'afterPassword'>) {
  const open = () => deps.selfService().registration === 'open';

  async function form(res: Response, status: number, uid: string, values: Partial<Record<Field, string>>, fieldErrors: FieldErrors, error?: string) {
    const csrfToken = deps.csrf.issue('interaction', uid);
    res
      .status(status)
      .type('html')
      .send(
        await deps.render('register', {
          uid,
          csrfToken,
          values: { username: values.username ?? '', email: values.email ?? '', name: values.name ?? '' },
          errors: fieldErrors,
          error,
          domains: deps.selfService().allowed_email_domains,
        }),
      );
  }

  async function checkMail(res: Response, uid: string) {
    res
      .status(200)
      .type('html')
      .send(
        await deps.render('check_mail', {
          heading: t('check_mail.heading'),
          message: t('check_mail.sent'),
          uid,
        }),
      );
  }

  async function validate(body: Record<string, unknown>): Promise<{ values: Record<Field, string>; errors: FieldErrors }> {
    const values = {
      username: text(body.username, 200).trim(),
      email: text(body.email, 300).trim(),
      name: text(body.name, 300).trim(),
      password: text(body.password, 2000),
    };
    const errs: FieldErrors = {};
    for (const field of FIELDS) if (hasNul(values[field])) errs[field] = t('register.error.nul');
    if (!errs.username) {
      const problem = usernameError(values.username);
      if (problem) errs.username = problem;
    }
    if (!errs.email) {
      if (!emailSchema.safeParse(values.email).success) errs.email = t('register.error.email');
      else {
        const domains = deps.selfService().allowed_email_domains;
        if (domains.length > 0 && !domains.includes(domainOf(values.email))) errs.email = t('register.error.email_domain', { domains: domains.join(', ') });
      }
    }
    if (!errs.name && (values.name.length < 1 || values.name.length > 200)) errs.name = t('register.error.name', { max: 200 });
    if (!errs.password) {
      const problem = await findPasswordProblem(values.password, { username: values.username, email: values.email });
      if (problem) errs.password = t('register.error.password', { problem: describePasswordProblem(problem, t) });
    }
    return { values, errors: errs };
  }

  return {
    async show(req: Request, res: Response): Promise<void> {
      if (!open()) throw new RegistrationClosed();
      const details = await deps.runtime().provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      await form(res, 200, details.uid, {}, {});
    },

    async submit(req: Request, res: Response): Promise<void> {
      if (!open()) throw new RegistrationClosed();
      const { provider } = deps.runtime();
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      const client = await provider.Client.find(String(details.params.client_id));
      if (!client) throw new errors.InvalidClient('the application is no longer registered');
      const origin = { clientId: client.clientId, ...requestOrigin(req) };

      const body = (req.body ?? {}) as Record<string, unknown>;
      const wait = await deps.registrationLimit(req.ip);
      if (wait !== undefined) {
        setRetryAfter(res, wait);
        await deps.audit.record({ event: 'registration.throttled', ...origin, details: { retry_after: wait } });
        await form(
          res,
          429,
          details.uid,
          { username: text(body.username, 200), email: text(body.email, 300), name: text(body.name, 300) },
          {},
          t('register.error.throttled', { count: Math.ceil(wait / 60) }),
        );
        return;
      }
      const { values, errors: fieldErrors } = await validate(body);
      if (Object.keys(fieldErrors).length > 0) {
        await deps.audit.record({ event: 'registration.refused', ...origin, details: { fields: Object.keys(fieldErrors) } });
        await form(res, 400, details.uid, values, fieldErrors);
        return;
      }
      if (await deps.users.findByUsername(values.username)) {
        await deps.audit.record({ event: 'registration.refused', ...origin, details: { fields: ['username'], reason: 'username_taken' } });
        await form(res, 400, details.uid, values, { username: t('register.error.username_taken') });
        return;
      }
      const verification = deps.selfService().email_verification;
      const taken = await deps.users.findByEmail(values.email);
      let user: User | undefined;
      if (!taken) {
        try {
          // The language of the page the account was made on is the one its owner reads (their mails').
          user = await deps.users.register({ ...values, locale: pageLocale() }, verification);
        } catch (error) {
          if (!(error instanceof UserError)) throw error;
          // Registered meanwhile by someone else: the username says so, the address does not.
          if (await deps.users.findByUsername(values.username)) {
            await form(res, 400, details.uid, values, { username: t('register.error.username_taken') });
            return;
          }
        }
      }
      if (!user) {
        // The address has an account: its owner is told, the registrant sees what a new account shows.
        const owner = taken ?? (await deps.users.findByEmail(values.email));
        await hashPassword(values.password); // the argon2 work a new account costs
        // Over the address's mail budget: nothing sent, the same page.
        if (owner && (await deps.mailThrottle.consume('registration', { sub: owner.sub }, undefined)).allowed) {
          await deps.selfServiceMail.sendAlreadyRegistered(owner);
          await deps.audit.record({ event: 'registration.email_taken', ...origin, accountId: owner.sub, username: owner.username });
        }
        if (verification) await checkMail(res, details.uid);
        else await form(res, 400, details.uid, values, { email: t('register.error.email_unusable') });
        return;
      }
      await deps.audit.record({ event: 'registration.completed', ...origin, accountId: user.sub, username: user.username, details: { verification } });
      if (verification) {
        await deps.selfServiceMail.sendVerification(user, details.uid);
        await deps.audit.record({ event: 'email.verification_sent', ...origin, accountId: user.sub, username: user.username });
        await checkMail(res, details.uid);
        return;
      }
      // No verification: the new account signs in at once (a second factor is asked for as for any sign-in).
      await secondFactor.afterPassword(req, res, details, user, false);
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
