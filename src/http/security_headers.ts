import helmet from 'helmet';
import type { RequestHandler } from 'express';

// One Content-Security-Policy for every response, hosted pages and the provider's own alike.
// `form-action` must list the registered clients' origins: Chromium applies it to the whole
// redirect chain after a form post (consent → /auth → the client's redirect_uri), and to the
// auto-submitting response_mode=form_post page. oidc-provider adds its inline script's hash to
// `script-src` itself for that page.
export function securityHeaders(options: { https: boolean; formActionOrigins: () => readonly string[] }): RequestHandler {
  let cachedFor: readonly string[] | undefined;
  let middleware: RequestHandler | undefined;
  const build = (origins: readonly string[]) =>
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'", 'data:', 'https:'],
          'font-src': ["'self'"],
          'connect-src': ["'self'"],
          'object-src': ["'none'"],
          'base-uri': ["'none'"],
          'frame-ancestors': ["'none'"],
          'form-action': ["'self'", ...origins],
          ...(options.https ? { 'upgrade-insecure-requests': [] } : {}),
        },
      },
      strictTransportSecurity: options.https ? { maxAge: 31536000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
    });
  return (req, res, next) => {
    const origins = options.formActionOrigins();
    if (origins !== cachedFor || !middleware) {
      cachedFor = origins;
      middleware = build(origins);
    }
    middleware(req, res, next);
  };
}
