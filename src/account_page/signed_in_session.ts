import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import { hashId } from '../storage/storage_key.js';
import { sessionCookieOptions } from '../provider/session_cookie_options.js';

// Who is signed in to this browser, read the way oidc-provider reads it (Session.get): the
// signed `_session` cookie names a stored session, which is found only while it lives. Looking
// at /account neither extends a session nor re-sends its cookie, with one exception: a cookie
// signed with an older cookie key (after `keys rotate`) is re-signed with the current one.
// The cookies library would do that by itself on a signed read, but with its default options
// (no SameSite, no Expires): a remembered session would end with the browser, and silent
// sign-in in an iframe would lose its SameSite=None cookie. So the signature is checked here
// and the re-signed cookie carries the provider's own attributes.

export interface SignedInSession {
  accountId: string;
  /** the session's storage key (storage_key.ts): the id account_sessions.ts lists it by */
  key: string;
  /** stable for the session's life and usable only with its cookie: what CSRF tokens bind to */
  uid: string;
}

interface Keygrip {
  index(data: string, digest: string): number;
}

export async function findSignedInSession(provider: Provider, req: Request, res: Response, secureCookies: boolean): Promise<SignedInSession | undefined> {
  const ctx = provider.createContext(req, res);
  const name = provider.cookieName('session');
  const id = ctx.cookies.get(name, { signed: false });
  const sig = ctx.cookies.get(`${name}.sig`, { signed: false });
  const keys = (ctx.cookies as unknown as { keys?: Keygrip }).keys;
  if (!id || !sig || !keys) return undefined;
  // Which cookie key signed it: 0 is the current one, -1 none of the live ones.
  const signedWith = keys.index(`${name}=${id}`, sig);
  if (signedWith < 0) return undefined;
  const session = await provider.Session.find(id);
  if (!session?.accountId) return undefined;
  if (signedWith > 0) {
    // As oidc-provider's session handler writes it: a remembered session's cookie expires with it.
    const expires = !session.transient && session.exp ? new Date(session.exp * 1000) : undefined;
    ctx.cookies.set(name, id, { ...sessionCookieOptions(secureCookies), ...(expires ? { expires } : {}) });
  }
  return { accountId: session.accountId, key: hashId(session.jti), uid: session.uid };
}

/** Tells the browser to forget its session cookie (the session itself was ended in storage). */
export function clearSessionCookie(provider: Provider, res: Response, secure: boolean): void {
  const name = provider.cookieName('session');
  for (const cookie of [name, `${name}.sig`]) res.clearCookie(cookie, { path: '/', httpOnly: true, secure, sameSite: 'lax' });
}
