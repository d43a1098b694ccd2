import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import type { Csrf } from '../http/csrf.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID } from '../config/account_client.js';
import { findSignedInSession } from './signed_in_session.js';

// Signing in to /account: an authorization code request as the built-in client (account_client.ts),
// so the user meets the same login page, throttle and audit as for any application. The state
// and PKCE verifier wait in a short-lived HttpOnly cookie whose value carries an HMAC (made with
// the CSRF key, csrf.ts), so any instance can check it and nothing is stored. The callback checks
// the state, then redeems the code in process: it must be this client's, for this redirect URI
// and this verifier, and is destroyed at once so no unused code lingers. What proves who is
// signed in is the session cookie the provider set on the way, read again on /account.

const SIGN_IN_COOKIE = 'gatehouse_account_signin';
const SIGN_IN_COOKIE_PATH = '/account';
const SIGN_IN_COOKIE_MAX_AGE_MS = 15 * 60_000;
const PURPOSE = 'account sign-in';

export interface AccountSignInDeps {
  issuer: string;
  secureCookies: boolean;
  csrf: Pick<Csrf, 'issue' | 'verify'>;
}

/** Why a callback could not sign the user in; each becomes a 4xx page. */
export type CallbackFailure = 'expired' | 'cancelled' | 'refused' | 'invalid_code' | 'no_session';

export type CallbackOutcome = { ok: true } | { ok: false; failure: CallbackFailure };

const random = () => randomBytes(32).toString('base64url');
const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** The named cookie's value as the browser sent it (Express parses no cookies by itself). */
function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export function createAccountSignIn({ issuer, secureCookies, csrf }: AccountSignInDeps) {
  const redirectUri = `${issuer}${ACCOUNT_CALLBACK_PATH}`;
  const cookieOptions = { path: SIGN_IN_COOKIE_PATH, httpOnly: true, secure: secureCookies, sameSite: 'lax' } as const;

  /** The state and verifier this browser's sign-in started with, if its cookie is intact. */
  function pending(req: Request): { state: string; verifier: string } | undefined {
    const [state, verifier, ...mac] = (readCookie(req, SIGN_IN_COOKIE) ?? '').split('.');
    if (!state || !verifier || mac.length !== 2) return undefined;
    return csrf.verify(PURPOSE, `${state}.${verifier}`, mac.join('.')) ? { state, verifier } : undefined;
  }

  return {
    /** Sends the browser to the authorization endpoint; it comes back to the callback. */
    start(provider: Provider, res: Response): void {
      const state = random();
      const verifier = random();
      res.cookie(SIGN_IN_COOKIE, `${state}.${verifier}.${csrf.issue(PURPOSE, `${state}.${verifier}`)}`, {
        ...cookieOptions,
        maxAge: SIGN_IN_COOKIE_MAX_AGE_MS,
      });
      const query = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: redirectUri,
        state,
        code_challenge: challengeOf(verifier),
        code_challenge_method: 'S256',
      });
      res.redirect(303, `${provider.pathFor('authorization')}?${query.toString()}`);
    },

    async callback(provider: Provider, req: Request, res: Response): Promise<CallbackOutcome> {
      const started = pending(req);
      res.clearCookie(SIGN_IN_COOKIE, cookieOptions);
      const { state, code, error } = req.query;
      if (!started || typeof state !== 'string' || state !== started.state) return { ok: false, failure: 'expired' };
      if (error !== undefined) return { ok: false, failure: error === 'access_denied' ? 'cancelled' : 'refused' };
      if (typeof code !== 'string' || code.length > 512) return { ok: false, failure: 'invalid_code' };

      const found = await provider.AuthorizationCode.find(code);
      if (!found || found.clientId !== ACCOUNT_CLIENT_ID) return { ok: false, failure: 'invalid_code' };
      // Redeemed here, whatever follows: a code is good for one use only.
      await found.destroy();
      const genuine =
        found.isValid && found.redirectUri === redirectUri && found.codeChallengeMethod === 'S256' && found.codeChallenge === challengeOf(started.verifier);
      if (!genuine) return { ok: false, failure: 'invalid_code' };

      const session = await findSignedInSession(provider, req, res, secureCookies);
      if (!session || session.accountId !== found.accountId) return { ok: false, failure: 'no_session' };
      return { ok: true };
    },
  };
}
