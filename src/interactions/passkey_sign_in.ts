import type { Request, Response } from 'express';
import type { Runtime } from '../provider/provider_host.js';
import type { Metrics } from '../observability/metrics.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { setRetryAfter } from '../http/retry_after.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { PasskeyCeremonies, Refused } from '../passkeys/passkey_ceremonies.js';
import { passkeyRefusalMessage } from '../passkeys/passkey_refusals.js';
import { ACR_MFA } from '../provider/mfa_policy.js';
import { WrongPrompt } from './interaction_errors.js';
import { secondFactorSubject, type SecondFactorStep, type SecondFactorSubject } from './second_factor.js';
import { t } from '../i18n/page_language.js';

// Passkeys in the sign-in: one route pair for two uses.
// - On the login page (no password verified yet): a passkey alone signs in, from the passkey
//   button or the browser's autofill (conditional UI). Any discoverable passkey may answer.
// - At the second-factor step (the password is verified, or a session is stepped up): only a
//   passkey of that account may answer, and it completes the step (second_factor.ts).
// The page's script (views/static/passkeys.js) fetches options (a challenge bound to this
// interaction, and to the account at the second step), lets the authenticator sign, and posts
// the response in an ordinary form: the answer is a redirect onwards, or the page again with
// the reason. A user-verified passkey is two factors in one (possession, unlocked by a PIN or
// biometric): alone it signs in with amr [hwk|swk, mfa] and acr mfa.
//
// Failures count in the same throttle as passwords: by the passkey's account (its second-factor
// counter at the second step) and by the client IP.

type Details = Awaited<ReturnType<Runtime['provider']['interactionDetails']>>;

export interface PasskeySignInDeps {
  runtime: () => Pick<Runtime, 'provider' | 'selfService'>;
  metrics: Pick<Metrics, 'signIn' | 'lockout'>;
  users: Pick<UsersRepo, 'findBySub'>;
  throttle: LoginThrottle;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record'>;
  passkeys: PasskeyCeremonies;
}

const lockedMessage = (seconds: number) => t('login.error.locked', { count: Math.ceil(seconds / 60) });

/** The response as posted by the page (a JSON text); undefined when it is not JSON. */
function parseResponse(value: unknown): unknown {
  if (typeof value !== 'string' || value.length > 12_000) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

export function createPasskeySignIn(
  { runtime, metrics, users, throttle, render, csrf, audit, passkeys }: PasskeySignInDeps,
  secondFactor: Pick<SecondFactorStep, 'finishSignIn' | 'completeSecondFactor'>,
) {
  /** The page the response came from, again, with why the passkey was not accepted. */
  async function pageAgain(res: Response, status: number, details: Details, subject: SecondFactorSubject | undefined, error: string) {
    const client = await runtime().provider.Client.find(String(details.params.client_id));
    const clientName = client?.clientName ?? client?.clientId;
    const csrfToken = csrf.issue('interaction', details.uid);
    const html = subject
      ? await render('mfa_code', { uid: details.uid, csrfToken, clientName, stepUp: subject.stepUp, error })
      : await render('login', { uid: details.uid, csrfToken, clientName, login: '', remember: false, error, selfService: runtime().selfService });
    res.status(status).type('html').send(html);
  }

  return {
    /** POST /interaction/:uid/passkey/options (JSON): a challenge for this interaction. */
    async options(req: Request, res: Response): Promise<void> {
      const details = await runtime().provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      res.json(await passkeys.authenticationOptions(details.uid, secondFactorSubject(details)?.sub));
    },

    /** POST /interaction/:uid/passkey (form): the authenticator's response, as JSON text in `response`. */
    async verify(req: Request, res: Response): Promise<void> {
      const { provider } = runtime();
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      const subject = secondFactorSubject(details);
      const step = subject ? 'second_factor' : 'sign_in';
      const body = (req.body ?? {}) as Record<string, unknown>;
      const response = parseResponse(body.response);
      const client = await provider.Client.find(String(details.params.client_id));
      const origin = { clientId: client?.clientId, ...requestOrigin(req) };

      const claimed = await passkeys.credentialOf(response);
      const rawId = (response as { id?: unknown } | undefined)?.id;
      // At the second step the account's second-factor count; before it, the passkey's account,
      // or (an unknown passkey) a count of its own id, so that only the IP's count binds.
      const throttled = subject
        ? { sub: `mfa:${subject.sub}` }
        : claimed
          ? { sub: claimed.sub }
          : { login: `passkey:${typeof rawId === 'string' ? rawId.slice(0, 128) : ''}` };
      const admission = await throttle.admit(throttled, req.ip);
      if (!admission.admitted) {
        await audit.record({ event: 'passkey.failed', ...origin, accountId: subject?.sub ?? claimed?.sub, details: { reason: 'locked_out', step } });
        metrics.signIn('throttled');
        setRetryAfter(res, admission.retryAfterSeconds);
        await pageAgain(res, 429, details, subject, lockedMessage(admission.retryAfterSeconds));
        return;
      }

      let result = await passkeys.authenticate(details.uid, response);
      // A challenge from the login page answered after the password was typed: still only a
      // passkey of the account whose second factor this is.
      if (result.ok && subject && result.passkey.sub !== subject.sub)
        result = { ok: false, reason: 'wrong_account', passkey: result.passkey } satisfies Refused;
      if (!result.ok) {
        const who = { ...origin, accountId: subject?.sub ?? result.passkey?.sub };
        await audit.record({
          event: 'passkey.failed',
          ...who,
          details: { reason: result.reason, step, ...(result.passkey ? { passkey: result.passkey.id } : {}) },
        });
        metrics.signIn('failure');
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          await audit.record({
            event: subject ? 'mfa.locked' : 'login.locked',
            ...who,
            details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds },
          });
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length) {
          const seconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
          setRetryAfter(res, seconds);
          await pageAgain(res, 429, details, subject, lockedMessage(seconds));
        } else await pageAgain(res, 400, details, subject, passkeyRefusalMessage(result.reason));
        return;
      }
      await throttle.succeeded(admission.attempt);
      const user = await users.findBySub(result.passkey.sub);
      if (!user || user.disabled) {
        await audit.record({
          event: 'login.failure',
          ...origin,
          accountId: result.passkey.sub,
          username: user?.username,
          details: { reason: 'disabled', amr: [result.amr] },
        });
        metrics.signIn('disabled');
        await pageAgain(res, 403, details, subject, t('login.error.disabled'));
        return;
      }
      await audit.record({
        event: 'passkey.used',
        ...origin,
        accountId: user.sub,
        username: user.username,
        details: { passkey: result.passkey.id, amr: [result.amr], step },
      });
      if (subject) {
        await secondFactor.completeSecondFactor(req, res, details, subject, [result.amr], 'passkey');
        return;
      }
      await secondFactor.finishSignIn(req, res, details, {
        sub: user.sub,
        username: user.username,
        amr: [result.amr, 'mfa'],
        acr: ACR_MFA,
        remember: body.remember === 'yes',
        clientId: client?.clientId,
      });
    },
  };
}
