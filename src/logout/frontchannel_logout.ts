import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RenderPage } from '../pages/render_page.js';

// Front-channel logout (OpenID Connect Front-Channel Logout 1.0), which oidc-provider dropped in
// v7. When a sign-out ends a session, the library answers with a redirect onward (to the
// client's post_logout_redirect_uri, or the signed-out page). If any client of that session
// registered a frontchannel_logout_uri, the redirect becomes a page that loads each of those
// URIs in a hidden iframe (with iss and sid when the client asked for them), waits for them
// for at most FRAME_WAIT_MS (views/static/frontchannel_logout.js), then goes on. The page's
// Content-Security-Policy lets it frame exactly those origins.

const FRAME_WAIT_MS = 3000;

/** What discovery says about it (Front-Channel Logout 1.0 section 3): both are implemented here. */
export const FRONTCHANNEL_LOGOUT_DISCOVERY = { frontchannel_logout_supported: true, frontchannel_logout_session_supported: true } as const;

interface LogoutClientMetadata {
  frontchannel_logout_uri?: string;
  frontchannel_logout_session_required?: boolean;
}

export function frontchannelLogoutUrl(issuer: string, metadata: LogoutClientMetadata, sid: string | undefined): string | undefined {
  if (!metadata.frontchannel_logout_uri) return undefined;
  const url = new URL(metadata.frontchannel_logout_uri);
  if (metadata.frontchannel_logout_session_required && sid) {
    url.searchParams.set('iss', issuer);
    url.searchParams.set('sid', sid);
  }
  return url.href;
}

/** The policy with `frame-src` set to the given origins (replacing any frame-src it had). */
export function allowFrames(policy: string, origins: readonly string[]): string {
  const directives = policy
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d && !/^frame-src\b/i.test(d));
  directives.push(`frame-src ${origins.join(' ')}`);
  return directives.join('; ');
}

async function framesFor(ctx: KoaContextWithOIDC, provider: Provider): Promise<string[]> {
  const authorizations = ctx.oidc.session?.authorizations ?? {};
  const frames: string[] = [];
  for (const [clientId, authorization] of Object.entries(authorizations)) {
    const client = await provider.Client.find(clientId);
    const url = client && frontchannelLogoutUrl(provider.issuer, client as unknown as LogoutClientMetadata, authorization.sid);
    if (url) frames.push(url);
  }
  return frames;
}

export function addFrontchannelLogout(provider: Provider, render: RenderPage): void {
  provider.use(async (ctx, next) => {
    await next();
    // Every request passes here; only the library's own routes have `oidc`.
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    // Only a confirmed sign-out of the whole session (logout=yes, which our pages always send).
    if (ctx.method !== 'POST' || oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !oidc.params?.logout) return;
    const frames = await framesFor(ctx as KoaContextWithOIDC, provider);
    if (frames.length === 0) return;
    const continueTo = ctx.response.get('location');
    ctx.remove('location');
    ctx.status = 200;
    ctx.type = 'html';
    const policy = ctx.response.get('content-security-policy');
    if (typeof policy === 'string' && policy) ctx.set('content-security-policy', allowFrames(policy, [...new Set(frames.map((f) => new URL(f).origin))]));
    ctx.body = await render('frontchannel_logout', { frames, continueTo, waitMs: FRAME_WAIT_MS });
  });
}
