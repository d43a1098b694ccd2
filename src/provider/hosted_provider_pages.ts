import ejs from 'ejs';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RenderPage } from '../pages/render_page.js';
import { requestDetails } from './request_details.js';
import { t } from '../i18n/page_language.js';
import { speakRequestLanguage } from './interaction_language.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import { applicationHome, signOutDetails } from './sign_out_details.js';

// The pages oidc-provider renders itself (errors, the end-session confirmation and the
// signed-out page), drawn with our layout instead of the library's placeholders.

// The error codes whose page has its own heading and message (locales/*.json, `errors.<code>`).
const KNOWN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'invalid_redirect_uri',
  'invalid_target',
  'login_required',
  'server_error',
  'temporarily_unavailable',
  'session_not_found',
  // Sign-in through an upstream identity provider (src/federation/).
  'upstream_state',
  'upstream_error',
  'upstream_unavailable',
  'upstream_email_taken',
  // A hosted form posted without a valid CSRF token (http/csrf.ts).
  'form_expired',
  // A body over a parser's limit (http/hosted_forms.ts, http/provider_body_limit.ts).
  'request_too_large',
  // A page that is switched off (registration not open).
  'not_found',
]);

/**
 * The error page's heading and message, in the page's language. The description (the
 * library's or ours, in English: it names the protocol detail) follows a known message in
 * parentheses, or stands alone for an unknown code.
 */
export function describeError(code: string | undefined, description?: string): { heading: string; message: string } {
  if (code && KNOWN_ERRORS.has(code)) {
    const message = t(`errors.${code}.message`);
    const heading = t(`errors.${code}.heading`);
    return { heading, message: description && code !== 'server_error' ? t('errors.with_detail', { message, detail: description }) : message };
  }
  return { heading: t('errors.unknown.heading'), message: description ?? t('errors.unknown.message') };
}

interface HintPayload {
  sub?: unknown;
  sid?: unknown;
  aud?: unknown;
}

/** The end-session request's ID token, already verified by the library (signature, issuer, audience). */
function idTokenHint(ctx: KoaContextWithOIDC): HintPayload | undefined {
  return (ctx.oidc.entities as { IdTokenHint?: { payload?: HintPayload } }).IdTokenHint?.payload;
}

/**
 * The application to name on the sign-out page, only when it proved it asked: an ID token it was
 * issued for the signed-in user. A bare `client_id` is no proof (anyone can put any client's
 * id in a link), and neither is an ID token of another user (an attacker's own), so those pages
 * name nobody rather than say "Sign out of <App>" for an app that never asked.
 */
function provenClientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc.client;
  const hint = idTokenHint(ctx);
  const session = ctx.oidc.session;
  if (!client || !hint || hint.aud !== client.clientId) return undefined;
  if (!session?.accountId || hint.sub !== session.accountId) return undefined;
  return client.clientName ?? client.clientId;
}

/**
 * True when the end-session request carries an ID token (already verified by the library) that
 * was issued to the signed-in user in the current session: its `sid` is the one this session
 * gave that client. An old token, another user's, or none at all leaves the choice to the user.
 */
function hintNamesThisSession(ctx: KoaContextWithOIDC): boolean {
  const hint = idTokenHint(ctx);
  const session = ctx.oidc.session;
  if (!hint || !session?.accountId || hint.sub !== session.accountId || typeof hint.aud !== 'string') return false;
  const sid = session.sidFor(hint.aud);
  return typeof sid === 'string' && hint.sid === sid;
}

export interface ProviderPagesOptions {
  /**
   * The error page also shows what the request sent (client_id, redirect_uri) and the OAuth
   * error as the library gave it: for a developer, outside production (NODE_ENV).
   */
  developerDetails?: boolean;
  /** names the account on the sign-out page; without it (error pages only) the page names nobody */
  users?: Pick<UsersRepo, 'findBySub'>;
}

export function createProviderPages(render: RenderPage, { developerDetails = false, users }: ProviderPagesOptions = {}) {
  return {
    async renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
      speakRequestLanguage(ctx);
      const { heading, message } = describeError(out.error, out.error_description);
      const details = developerDetails ? { error: out.error, error_description: out.error_description, ...requestDetails(ctx) } : undefined;
      ctx.type = 'html';
      ctx.body = await render('error', { heading, message, code: out.error, details });
    },

    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      // The library's form is empty apart from its xsrf input; we add the button to it so the
      // form submits `logout=yes` itself (sign out of every client, not just the requesting one).
      speakRequestLanguage(ctx);
      const button = `<button type="submit" name="logout" value="yes" autofocus>${ejs.escapeXML(t('logout.submit'))}</button>`;
      const confirmed = hintNamesThisSession(ctx);
      // With an ID token from this very session the application has shown who asks: the form
      // submits itself (views/static/auto_submit.js), the button stays for browsers without JavaScript.
      const marked = confirmed
        ? form.replace('<form ', '<form data-auto-submit ').replace('</form>', `${button}</form>`)
        : form.replace('</form>', `${button}</form>`);
      const details = await signOutDetails(ctx, users ?? { findBySub: () => Promise.resolve(undefined) });
      ctx.type = 'html';
      ctx.body = await render('logout', { clientName: provenClientName(ctx), form: marked, confirmed, ...details });
    },

    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      // Reached with a bare `client_id` (the library forwards it, and anyone can link here with
      // one), and the sign-out covers every application anyway: the text names none. A known
      // client only gets a way back to its own registered address; else the account page, which
      // signs in again.
      speakRequestLanguage(ctx);
      ctx.type = 'html';
      ctx.body = await render('logged_out', { returnTo: applicationHome(ctx) });
    },
  };
}
