import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Runtime } from '../provider/provider_host.js';
import type { Metrics } from '../observability/metrics.js';
import type { User, UsersRepo } from '../accounts/users_repo.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { setRetryAfter } from '../http/retry_after.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import { ACR_MFA, ACR_PASSWORD, SECOND_FACTOR_REASONS, mfaDemanded } from '../provider/mfa_policy.js';
import { WrongPrompt } from './interaction_errors.js';
import { t } from '../i18n/page_language.js';
import { finishInteraction } from './finish_interaction.js';

// The second step of a sign-in: after the right password (login.ts), or for the user of an
// existing password-only session when the request demands `mfa` (step-up), the user gives a
// code from their authenticator app or a recovery code (input `code`); a user who must use a
// second factor and has none sets up an authenticator app right here. Who the password was
// verified for is kept server-side, on the interaction itself (its stored `result`, under
// PENDING), never in the form: the interaction is bound to this browser by its cookie.
// Wrong codes are throttled like passwords (the same shared counters, under the account's own
// second-factor key), and every outcome is audited.
//
// finishSignIn is how any second factor (passkeys too) completes the interaction: it records
// `amr` (RFC 8176) and `acr` on the session, which the ID tokens then carry.

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface SecondFactorDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  metrics: Pick<Metrics, 'signIn' | 'lockout'>;
  users: UsersRepo;
  throttle: LoginThrottle;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record' | 'recordRepeated'>;
  mfa: SecondFactors;
  /** the security notice of an authenticator app set up during sign-in */
  selfServiceMail?: Pick<SelfServiceMail, 'sendNotice'>;
}

/** Where the password step leaves its result on the interaction. */
const PENDING = 'gatehouse_password_verified';

interface PendingState {
  sub: string;
  remember: boolean;
  /** epoch seconds of the password check */
  ts: number;
}

/** Whose second factor the step is for, and whether it is a step-up of an existing session. */
export interface SecondFactorSubject {
  sub: string;
  stepUp: boolean;
  remember: boolean | undefined;
}

const lockedMessage = (seconds: number) => t('mfa_code.error.locked', { count: Math.ceil(seconds / 60) });

const unique = (values: string[]) => [...new Set(values)];
/** The throttle subject of an account's second-factor guesses: apart from its password count. */
const throttleSubject = (sub: string) => ({ sub: `mfa:${sub}` });

function pendingOf(details: Details): PendingState | undefined {
  const state = details.result?.[PENDING] as PendingState | undefined;
  return state && typeof state.sub === 'string' ? state : undefined;
}

/**
 * Whose second factor this interaction asks for: the user whose password it verified, or, when
 * the login prompt is only about the second factor (mfa_required, essential acr), the user of the
 * existing session. Undefined when a password is what is needed.
 */
export function secondFactorSubject(details: Details): SecondFactorSubject | undefined {
  if (details.prompt.name !== 'login') return undefined;
  const pending = pendingOf(details);
  if (pending) return { sub: pending.sub, stepUp: false, remember: pending.remember };
  const accountId = details.session?.accountId;
  const reasons = details.prompt.reasons;
  if (accountId && reasons.length > 0 && reasons.every((r) => SECOND_FACTOR_REASONS.has(r))) return { sub: accountId, stepUp: true, remember: undefined };
  return undefined;
}

export interface FinishSignIn {
  sub: string;
  /** what this step used, RFC 8176: `otp`, `hwk`, `swk`, `user`, `pwd` … (`mfa` is added when two factors were used) */
  amr: string[];
  /** `mfa` or `pwd` (mfa_policy.ts) */
  acr: string;
  remember: boolean;
  clientId: string | undefined;
  /** the user's name for the audit row, when the caller has just read the user (saves reading it again) */
  username?: string;
}

export function createSecondFactorStep({ runtime, metrics, users, throttle, render, csrf, audit, mfa, selfServiceMail }: SecondFactorDeps) {
  async function clientOf(details: Details): Promise<Client | undefined> {
    return runtime().provider.Client.find(String(details.params.client_id));
  }

  async function codePage(res: Response, status: number, details: Details, client: Client | undefined, stepUp: boolean, error?: string) {
    res
      .status(status)
      .type('html')
      .send(
        await render('mfa_code', {
          uid: details.uid,
          csrfToken: csrf.issue('interaction', details.uid),
          clientName: client?.clientName ?? client?.clientId,
          stepUp,
          error,
        }),
      );
  }

  async function enrolPage(res: Response, status: number, details: Details, client: Client | undefined, user: User, error?: string) {
    const setup = (await mfa.pendingTotp(user.sub, user.username)) ?? (await mfa.startTotp(user.sub, user.username));
    if (!setup) return codePage(res, status, details, client, false);
    res
      .status(status)
      .type('html')
      .send(
        await render('mfa_enrol', {
          uid: details.uid,
          csrfToken: csrf.issue('interaction', details.uid),
          clientName: client?.clientName ?? client?.clientId,
          setup,
          error,
        }),
      );
  }

  /** Whether the session that will result keeps the browser signed in (step-up keeps what it had). */
  async function rememberOf(details: Details, subject: SecondFactorSubject): Promise<boolean> {
    if (subject.remember !== undefined) return subject.remember;
    const cookie = details.session?.cookie;
    const session = cookie ? await runtime().provider.Session.find(cookie) : undefined;
    return session ? !session.transient : false;
  }

  /** The amr of a second factor after an earlier one: what was used before, this, and `mfa`. */
  function combinedAmr(details: Details, subject: SecondFactorSubject, used: string[]): string[] {
    const before = subject.stepUp ? (details.session?.amr ?? [ACR_PASSWORD]) : ['pwd'];
    return unique([...before.filter((a) => a !== 'mfa'), ...used, 'mfa']);
  }

  async function finishSignIn(req: Request, res: Response, details: Details, finish: FinishSignIn): Promise<void> {
    const username = finish.username ?? (await users.findBySub(finish.sub))?.username;
    await audit.record({
      event: 'login.success',
      clientId: finish.clientId,
      ...requestOrigin(req),
      accountId: finish.sub,
      username,
      details: { amr: finish.amr, acr: finish.acr },
    });
    metrics.signIn('success');
    const login = { accountId: finish.sub, amr: finish.amr, acr: finish.acr, ts: Math.floor(Date.now() / 1000), remember: finish.remember };
    await finishInteraction(res, details, { login }, { mergeWithLastSubmission: false });
  }

  /** The user of a subject, still able to sign in; otherwise the interaction does not apply. */
  async function activeUser(subject: SecondFactorSubject): Promise<User> {
    const user = await users.findBySub(subject.sub);
    if (!user || user.disabled) throw new WrongPrompt();
    return user;
  }

  /**
   * Completes the second-factor step with a factor that was just verified (a TOTP or recovery
   * code here; a passkey assertion in the passkeys module): audits it and finishes the sign-in
   * with `amr` = what came before + `used` + `mfa`, `acr` = `mfa`.
   */
  async function completeSecondFactor(
    req: Request,
    res: Response,
    details: Details,
    subject: SecondFactorSubject,
    used: string[],
    method: string,
  ): Promise<void> {
    const clientId = String(details.params.client_id);
    const user = await users.findBySub(subject.sub);
    await audit.record({
      event: 'mfa.success',
      clientId,
      ...requestOrigin(req),
      accountId: subject.sub,
      username: user?.username,
      details: { method, step_up: subject.stepUp },
    });
    await finishSignIn(req, res, details, {
      sub: subject.sub,
      username: user?.username,
      amr: combinedAmr(details, subject, used),
      acr: ACR_MFA,
      remember: await rememberOf(details, subject),
      clientId,
    });
  }

  return {
    finishSignIn,
    completeSecondFactor,

    /**
     * After the right password (login.ts): finishes with `pwd` when no second factor is had nor
     * demanded; otherwise remembers the password step on the interaction and shows the code form
     * (or the set-up of an authenticator app for a user without any factor).
     */
    async afterPassword(req: Request, res: Response, details: Details, user: User, remember: boolean): Promise<void> {
      const client = await clientOf(details);
      const status = await mfa.status(user.sub);
      const demanded = mfaDemanded(details.params, client);
      if (!status.any && !demanded) {
        await finishSignIn(req, res, details, {
          sub: user.sub,
          username: user.username,
          amr: ['pwd'],
          acr: ACR_PASSWORD,
          remember,
          clientId: client?.clientId,
        });
        return;
      }
      details.result = { ...(details.result ?? {}), [PENDING]: { sub: user.sub, remember, ts: Math.floor(Date.now() / 1000) } satisfies PendingState };
      await details.save(Math.max(1, details.exp - Math.floor(Date.now() / 1000)));
      if (status.any) {
        await codePage(res, 200, details, client, false);
        return;
      }
      await audit.record({ event: 'mfa.enrolment_required', clientId: client?.clientId, ...requestOrigin(req), accountId: user.sub, username: user.username });
      await enrolPage(res, 200, details, client, user);
    },

    /** GET of the interaction when it is at the second factor; false when it is not. */
    async show(res: Response, details: Details): Promise<boolean> {
      const subject = secondFactorSubject(details);
      if (!subject) return false;
      const user = await activeUser(subject);
      const client = await clientOf(details);
      if ((await mfa.status(user.sub)).any) await codePage(res, 200, details, client, subject.stepUp);
      else await enrolPage(res, 200, details, client, user);
      return true;
    },

    /** POST /interaction/:uid/mfa: a TOTP or recovery code. */
    async submit(req: Request, res: Response): Promise<void> {
      const details = await runtime().provider.interactionDetails(req, res);
      const subject = secondFactorSubject(details);
      if (!subject) throw new WrongPrompt();
      const user = await activeUser(subject);
      const client = await clientOf(details);
      const origin = { clientId: client?.clientId, ...requestOrigin(req), accountId: user.sub, username: user.username };
      const body = (req.body ?? {}) as Record<string, unknown>;
      const code = typeof body.code === 'string' ? body.code : '';

      const admission = await throttle.admit(throttleSubject(user.sub), req.ip);
      if (!admission.admitted) {
        await audit.recordRepeated(
          {
            event: 'mfa.failure',
            ...origin,
            details: { reason: 'locked_out', form: 'sign_in', scope: admission.scope, retry_after: admission.retryAfterSeconds },
          },
          { key: `mfa.failure:locked_out:${admission.lockKey}`, windowSeconds: admission.lockoutSeconds },
        );
        metrics.signIn('throttled');
        setRetryAfter(res, admission.retryAfterSeconds);
        await codePage(res, 429, details, client, subject.stepUp, lockedMessage(admission.retryAfterSeconds));
        return;
      }
      const check = code ? await mfa.verify(user.sub, code) : { ok: false as const };
      if (!check.ok) {
        await audit.record({ event: 'mfa.failure', ...origin, details: { reason: 'bad_code', form: 'sign_in' } });
        metrics.signIn('failure');
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          await audit.record({ event: 'mfa.locked', ...origin, details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds } });
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length) {
          const seconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
          setRetryAfter(res, seconds);
          await codePage(res, 429, details, client, subject.stepUp, lockedMessage(seconds));
        } else {
          await codePage(res, 401, details, client, subject.stepUp, t('mfa_code.error.wrong_code'));
        }
        return;
      }
      await throttle.succeeded(admission.attempt);
      if (check.method === 'recovery_code') {
        await audit.record({ event: 'mfa.recovery_code.used', ...origin, details: { remaining: check.recoveryCodesLeft ?? 0 } });
      }
      await completeSecondFactor(req, res, details, subject, ['otp'], check.method);
    },

    /** POST /interaction/:uid/mfa/enrol: confirms an authenticator app set up during sign-in. */
    async enrol(req: Request, res: Response): Promise<void> {
      const details = await runtime().provider.interactionDetails(req, res);
      const subject = secondFactorSubject(details);
      if (!subject) throw new WrongPrompt();
      const user = await activeUser(subject);
      const client = await clientOf(details);
      const origin = { clientId: client?.clientId, ...requestOrigin(req), accountId: user.sub, username: user.username };
      if ((await mfa.status(user.sub)).any) {
        // Set up meanwhile (another tab, /account): the code form is what applies now.
        await codePage(res, 409, details, client, subject.stepUp);
        return;
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const code = typeof body.code === 'string' ? body.code : '';
      const admission = await throttle.admit(throttleSubject(user.sub), req.ip);
      if (!admission.admitted) {
        setRetryAfter(res, admission.retryAfterSeconds);
        await enrolPage(res, 429, details, client, user, lockedMessage(admission.retryAfterSeconds));
        return;
      }
      if (!(await mfa.confirmTotp(user.sub, code))) {
        await audit.record({ event: 'mfa.failure', ...origin, details: { reason: 'bad_code', form: 'enrol' } });
        await throttle.failed(admission.attempt);
        await enrolPage(res, 401, details, client, user, t('mfa_enrol.error.wrong_code'));
        return;
      }
      await throttle.succeeded(admission.attempt);
      await audit.record({ event: 'mfa.totp.enrolled', ...origin, details: { where: 'sign_in' } });
      await selfServiceMail?.sendNotice(user, 'totp_enrolled').catch(() => undefined);
      await completeSecondFactor(req, res, details, subject, ['otp'], 'totp');
    },
  };
}

export type SecondFactorStep = ReturnType<typeof createSecondFactorStep>;
