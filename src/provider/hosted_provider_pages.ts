import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RenderPage } from '../pages/render_page.js';
import { requestDetails } from './request_details.js';

// The pages oidc-provider renders itself (errors, the end-session confirmation and the
// signed-out page), drawn with our layout instead of the library's placeholders.

const HEADINGS: Record<string, [string, string]> = {
  invalid_request: [
    'The request could not be processed',
    'The application sent a sign-in request that is not valid. Go back to the application and try again.',
  ],
  invalid_client: ['Unknown application', 'The application that sent you here is not registered with this sign-in service.'],
  unauthorized_client: ['Application not allowed', 'The application is not allowed to make this kind of request.'],
  access_denied: ['Access denied', 'You did not allow the application access.'],
  unsupported_response_type: ['Unsupported request', 'The application asked for a response this service does not support.'],
  invalid_scope: ['Unknown permissions', 'The application asked for permissions this service does not know.'],
  invalid_redirect_uri: [
    'Unregistered return address',
    'The application asked to return to an address that is not registered for it, so you were not sent back.',
  ],
  invalid_target: ['Unknown API', 'The application asked for access to an API that is not registered.'],
  login_required: ['Sign-in required', 'You need to sign in first.'],
  server_error: ['Something went wrong', 'The sign-in service could not complete your request. Please try again later.'],
  temporarily_unavailable: ['Temporarily unavailable', 'The sign-in service is busy or unavailable. Please try again shortly.'],
  session_not_found: ['Sign-in expired', 'This sign-in page has expired or was already used. Go back to the application and sign in again.'],
  // Sign-in through an upstream identity provider (src/federation/).
  upstream_state: [
    'Sign-in expired',
    'This answer from the identity provider does not belong to a sign-in in progress here: it expired, was already used, or was not started by this browser. Go back to the application and sign in again.',
  ],
  upstream_error: [
    'Sign-in failed',
    "The identity provider's answer could not be accepted, so you were not signed in. Go back to the application and try again.",
  ],
  upstream_unavailable: [
    'Identity provider unavailable',
    'The identity provider could not be reached. Try again later, or go back to the application and sign in another way.',
  ],
  upstream_email_taken: [
    'Account already exists',
    'An account with this email address already exists here. Sign in with it first, then link the identity provider from your account page.',
  ],
  // A hosted form posted without a valid CSRF token (http/csrf.ts).
  form_expired: ['Form expired', 'This form has expired. Go back and try again.'],
  // A body over a parser's limit (http/hosted_forms.ts, http/provider_body_limit.ts).
  request_too_large: ['Request too large', 'The form you sent is larger than this service accepts.'],
};

export function describeError(code: string | undefined, description?: string): { heading: string; message: string } {
  const known = code ? HEADINGS[code] : undefined;
  if (known) return { heading: known[0], message: description && code !== 'server_error' ? `${known[1]} (${description})` : known[1] };
  return { heading: 'Something went wrong', message: description ?? 'The request could not be completed.' };
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
}

export function createProviderPages(render: RenderPage, { developerDetails = false }: ProviderPagesOptions = {}) {
  return {
    async renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
      const { heading, message } = describeError(out.error, out.error_description);
      const details = developerDetails ? { error: out.error, error_description: out.error_description, ...requestDetails(ctx) } : undefined;
      ctx.type = 'html';
      ctx.body = await render('error', { heading, message, code: out.error, details });
    },

    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      // The library's form is empty apart from its xsrf input; we add the button to it so the
      // form submits `logout=yes` itself (sign out of every client, not just the requesting one).
      const button = '<button type="submit" name="logout" value="yes" autofocus>Sign out</button>';
      const confirmed = hintNamesThisSession(ctx);
      // With an ID token from this very session the application has shown who asks: the form
      // submits itself (views/static/auto_submit.js), the button stays for browsers without JavaScript.
      const marked = confirmed
        ? form.replace('<form ', '<form data-auto-submit ').replace('</form>', `${button}</form>`)
        : form.replace('</form>', `${button}</form>`);
      ctx.type = 'html';
      ctx.body = await render('logout', { clientName: provenClientName(ctx), form: marked, confirmed });
    },

    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      // Reached with a bare `client_id` (the library forwards it, and anyone can link here with
      // one), and the sign-out covers every application anyway: name none.
      ctx.type = 'html';
      ctx.body = await render('logged_out', {});
    },
  };
}
