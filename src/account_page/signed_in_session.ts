import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import { hashId } from '../oidc/storage_key.js';

// Who is signed in to this browser, read the way oidc-provider reads it (Session.get): the
// signed `_session` cookie names a stored session, which is found only while it lives. Nothing
// is written back, so looking at /account neither extends a session nor re-sends its cookie.

export interface SignedInSession {
  accountId: string;
  /** the session's storage key (storage_key.ts): the id account_sessions.ts lists it by */
  key: string;
  /** stable for the session's life and usable only with its cookie: what CSRF tokens bind to */
  uid: string;
}

export async function findSignedInSession(provider: Provider, req: Request, res: Response): Promise<SignedInSession | undefined> {
  const ctx = provider.createContext(req, res);
  // Signed: the cookie is checked against its `.sig` companion with the provider's cookie keys.
  const id = ctx.cookies.get(provider.cookieName('session'), { signed: true });
  if (!id) return undefined;
  const session = await provider.Session.find(id);
  if (!session?.accountId) return undefined;
  return { accountId: session.accountId, key: hashId(session.jti), uid: session.uid };
}

/** Tells the browser to forget its session cookie (the session itself was ended in storage). */
export function clearSessionCookie(provider: Provider, res: Response, secure: boolean): void {
  const name = provider.cookieName('session');
  for (const cookie of [name, `${name}.sig`]) res.clearCookie(cookie, { path: '/', httpOnly: true, secure, sameSite: 'lax' });
}
