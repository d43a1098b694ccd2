import Provider from 'oidc-provider';
import type { Account, FindAccount, KoaContextWithOIDC } from 'oidc-provider';

// The upstream identity provider a session signed in through (src/federation/): RFC 8176 has
// no `amr` value for federation, so the session records it as `upstream` ({ id, id_token? })
// and every ID token of that session says it as `idp` (the upstream's config id). The
// federation's interaction result carries `login.upstream`; a password sign-in carries none,
// so signing in again with a password in the same browser clears it.

export interface SessionUpstream {
  id: string;
  /** the upstream's ID token, kept when its `end_session` is set: the id_token_hint for signing out there */
  id_token?: string;
}

type SessionLike = { accountId?: string; upstream?: SessionUpstream };

// The sessions a request has looked up by uid, for the ID token's `idp` below: a code exchange
// or a refresh has just read its token's session (the library's token-session binding), and
// reading it again for `idp` was a round trip of its own. Per request only (keyed by its context).
const sessionsReadIn = new WeakMap<object, Map<string, SessionLike | undefined>>();

/**
 * Lets the session model store `upstream` (the library keeps only the properties it lists), and
 * remembers, for the rest of the request, the sessions it finds by uid.
 */
export function recordUpstreamInSessions(provider: Provider): void {
  const Session = provider.Session as unknown as { IN_PAYLOAD: string[]; findByUid(uid: string): Promise<SessionLike | undefined> };
  const listed = Session.IN_PAYLOAD;
  if (listed.includes('upstream')) return;
  Object.defineProperty(Session, 'IN_PAYLOAD', { configurable: true, get: () => [...listed, 'upstream'] });
  const findByUid = Session.findByUid.bind(Session);
  Session.findByUid = async (uid: string) => {
    const found = await findByUid(uid);
    const ctx = Provider.ctx;
    if (ctx) {
      const read = sessionsReadIn.get(ctx) ?? new Map<string, SessionLike | undefined>();
      sessionsReadIn.set(ctx, read.set(uid, found));
    }
    return found;
  };
}

function isSessionUpstream(value: unknown): value is SessionUpstream {
  return !!value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string';
}

/** The upstream the request's session (or the session a token was issued in) signed in through. */
async function upstreamFor(ctx: KoaContextWithOIDC | undefined, sub: string, token: unknown): Promise<SessionUpstream | undefined> {
  const session = ctx?.oidc.session as SessionLike | undefined;
  if (session?.accountId === sub) return isSessionUpstream(session.upstream) ? session.upstream : undefined;
  const sessionUid = (token as { sessionUid?: unknown } | undefined)?.sessionUid;
  if (!ctx || typeof sessionUid !== 'string') return undefined;
  const read = sessionsReadIn.get(ctx);
  const stored = read?.has(sessionUid) ? read.get(sessionUid) : ((await ctx.oidc.provider.Session.findByUid(sessionUid)) as SessionLike | undefined);
  return stored?.accountId === sub && isSessionUpstream(stored.upstream) ? stored.upstream : undefined;
}

/**
 * findAccount, plus: at the end of a sign-in (the `resume` route, where the library has just
 * logged the session in from the interaction result) the session takes the result's upstream;
 * and ID tokens get `idp`.
 */
export function withUpstreamSessions(findAccount: FindAccount): FindAccount {
  return async (ctx, sub, token) => {
    const result = ctx.oidc.route === 'resume' ? (ctx.oidc.result as { login?: { upstream?: unknown } } | undefined) : undefined;
    if (result?.login && ctx.oidc.session) {
      const session = ctx.oidc.session as unknown as SessionLike;
      if (isSessionUpstream(result.login.upstream)) session.upstream = result.login.upstream;
      else delete session.upstream;
    }
    const account = await findAccount(ctx, sub, token);
    if (!account) return account;
    const claims = account.claims.bind(account);
    const withIdp: Account = {
      ...account,
      async claims(use, scope, requested, rejected) {
        const base = await claims(use, scope, requested, rejected);
        if (use !== 'id_token') return base;
        const upstream = await upstreamFor(ctx, sub, token);
        return upstream ? { ...base, idp: upstream.id } : base;
      },
    };
    return withIdp;
  };
}

/** Where to send the browser to sign out at `upstream` before going on to `continueTo`; undefined: nowhere. */
export type UpstreamSignOut = (upstream: SessionUpstream, continueTo: string) => Promise<string | undefined>;

/**
 * After a confirmed sign-out of a session that signed in through an upstream whose
 * `end_session` is set (its ID token was kept for this), the browser goes to the upstream's
 * end-session endpoint first and comes back to where the sign-out was going. Installed inside
 * the front-channel logout page, which then continues to the upstream.
 */
export function signOutAtUpstreams(provider: Provider, signOut: UpstreamSignOut): void {
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (ctx.method !== 'POST' || oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !oidc.params?.logout) return;
    const upstream = (oidc.session as unknown as SessionLike | undefined)?.upstream;
    if (!isSessionUpstream(upstream) || !upstream.id_token) return;
    const continueTo = ctx.response.get('location');
    const to = await signOut(upstream, new URL(continueTo, provider.issuer).href).catch(() => undefined);
    if (to) ctx.set('location', to);
  });
}
