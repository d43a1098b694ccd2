import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';

// oidc-provider's routes answer their own errors, but one thing runs after a route has answered:
// the library saves a changed session once more on the way out (ensureSessionSave in the
// library's lib/helpers/initialize_app.js). An OAuth error thrown there (the adapter refuses to store a
// session holding a NUL character from a request parameter, see postgres_adapter.ts) would reach
// Koa's default handler and leave as a bare text/plain 400. Such an error is answered here the
// way the routes answer theirs: the error page for a browser, the OAuth JSON error otherwise.
// Anything else (5xx, non-OAuth errors) goes on to the handlers outside, unchanged.

type RenderError = (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, error: Error) => Promise<void>;

export function answerEscapedErrors(provider: Provider, renderError: RenderError): void {
  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof errors.OIDCProviderError) || !error.expose) throw error;
      const out = { error: error.error, ...(error.error_description === undefined ? {} : { error_description: error.error_description }) };
      ctx.status = error.statusCode;
      ctx.set('cache-control', 'no-store');
      if (ctx.accepts('json', 'html') === 'html') await renderError(ctx as KoaContextWithOIDC, out, error);
      else ctx.body = out;
    }
  });
}
