import type { Request, Response } from 'express';
import type { Runtime } from '../provider/provider_host.js';
import type { Metrics } from '../observability/metrics.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import { setRetryAfter } from '../http/retry_after.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { PasskeyCeremonies, RefusalReason } from '../passkeys/passkey_ceremonies.js';
import { passkeyRefusalMessage } from '../passkeys/passkey_refusals.js';
import { WrongPrompt } from './interaction_errors.js';

// Signing in with a passkey alone, from the login page's passkey button or the browser's
// autofill (conditional UI). The page's script asks for options (a challenge bound to this
// interaction), lets the authenticator sign, and posts the response here; the answer is JSON:
// where to go next, or why not. A verified passkey with user verification is two factors in one
// (something you have, unlocked by something you know or are): the session's amr is the key's
// kind (hwk or swk, RFC 8176) and its acr the multi-factor one.
//
// Failures are counted by the same throttle as passwords: by the passkey's account when the
// response names a known passkey, and always by the client IP.

export interface PasskeySignInDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  metrics: Pick<Metrics, 'signIn' | 'lockout'>;
  users: Pick<UsersRepo, 'findBySub'>;
  throttle: LoginThrottle;
  audit: Pick<AuditLog, 'record'>;
  passkeys: PasskeyCeremonies;
  /** the acr of a sign-in with a user-verified passkey (the mfa contract's multi-factor value) */
  passkeyAcr: string;
}

export function passkeyRefusal(res: Response, status: number, reason: RefusalReason | 'locked' | 'disabled', message?: string) {
  res.status(status).json({
    error: reason === 'locked' ? 'temporarily_locked' : 'passkey_refused',
    reason,
    message: message ?? passkeyRefusalMessage(reason as RefusalReason),
  });
}

const lockedMessage = (seconds: number) => {
  const minutes = Math.ceil(seconds / 60);
  return `Too many failed sign-ins. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
};

export function createPasskeySignIn({ runtime, metrics, users, throttle, audit, passkeys, passkeyAcr }: PasskeySignInDeps) {
  return {
    /** POST /interaction/:uid/passkey/options: a challenge any of the user's passkeys may answer. */
    async options(req: Request, res: Response): Promise<void> {
      const details = await runtime().provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      res.json(await passkeys.authenticationOptions(details.uid));
    },

    /** POST /interaction/:uid/passkey: the authenticator's response. */
    async verify(req: Request, res: Response): Promise<void> {
      const { provider } = runtime();
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new WrongPrompt();
      const body = (req.body ?? {}) as Record<string, unknown>;
      const client = await provider.Client.find(String(details.params.client_id));
      const origin = { clientId: client?.clientId, ...requestOrigin(req) };

      const claimed = await passkeys.credentialOf(body.response);
      const rawId = (body.response as { id?: unknown } | undefined)?.id;
      // An unknown passkey is counted under its own id: only the IP's count then binds.
      const subject = claimed ? { sub: claimed.sub } : { login: `passkey:${typeof rawId === 'string' ? rawId.slice(0, 128) : ''}` };
      const admission = await throttle.admit(subject, req.ip);
      if (!admission.admitted) {
        await audit.record({ event: 'passkey.failed', ...origin, accountId: claimed?.sub, details: { reason: 'locked_out', step: 'sign_in' } });
        metrics.signIn('throttled');
        setRetryAfter(res, admission.retryAfterSeconds);
        passkeyRefusal(res, 429, 'locked', lockedMessage(admission.retryAfterSeconds));
        return;
      }

      const result = await passkeys.authenticate(details.uid, body.response);
      if (!result.ok) {
        const who = { ...origin, accountId: result.passkey?.sub };
        await audit.record({
          event: 'passkey.failed',
          ...who,
          details: { reason: result.reason, step: 'sign_in', ...(result.passkey ? { passkey: result.passkey.id } : {}) },
        });
        metrics.signIn('failure');
        const lockouts = await throttle.failed(admission.attempt);
        for (const lockout of lockouts) {
          await audit.record({ event: 'login.locked', ...who, details: { reason: lockout.scope, lockout_seconds: lockout.retryAfterSeconds } });
          metrics.lockout(lockout.scope);
        }
        if (lockouts.length) {
          const seconds = Math.max(...lockouts.map((l) => l.retryAfterSeconds));
          setRetryAfter(res, seconds);
          passkeyRefusal(res, 429, 'locked', lockedMessage(seconds));
        } else passkeyRefusal(res, 400, result.reason);
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
        passkeyRefusal(res, 403, 'disabled', 'This account is disabled. Contact your administrator.');
        return;
      }
      const amr = [result.amr];
      await audit.record({
        event: 'passkey.used',
        ...origin,
        accountId: user.sub,
        username: user.username,
        details: { passkey: result.passkey.id, amr, step: 'sign_in' },
      });
      await audit.record({ event: 'login.success', ...origin, accountId: user.sub, username: user.username, details: { amr } });
      metrics.signIn('success');
      const redirect = await provider.interactionResult(
        req,
        res,
        { login: { accountId: user.sub, amr, acr: passkeyAcr, ts: Math.floor(Date.now() / 1000), remember: body.remember === true } },
        { mergeWithLastSubmission: false },
      );
      res.json({ redirect });
    },
  };
}
