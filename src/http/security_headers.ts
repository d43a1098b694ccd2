import helmet from 'helmet';
import type { RequestHandler } from 'express';

// One Content-Security-Policy for every response, hosted pages and the provider's own alike.
// `form-action` must list the registered clients' origins: Chromium applies it to the whole
// redirect chain after a form post (consent → /auth → the client's redirect_uri), and to the
// auto-submitting response_mode=form_post page. oidc-provider adds its inline script's hash to
// `script-src` itself for that page. Images come from here and from the configured logos' origins
// only (the operator's and the clients' `logo_uri`), never any https: address.
export function securityHeaders(options: {
  https: boolean;
  formActionOrigins: () => readonly string[];
  imageOrigins: () => readonly string[];
}): RequestHandler {
  let cachedFor: readonly string[] | undefined;
  let cachedImages: readonly string[] | undefined;
  let middleware: RequestHandler | undefined;
  const build = (origins: readonly string[], images: readonly string[]) =>
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'", ...images],
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
    const images = options.imageOrigins();
    if (origins !== cachedFor || images !== cachedImages || !middleware) {
      cachedFor = origins;
      cachedImages = images;
      middleware = build(origins, images);
    }
    middleware(req, res, next);
  };
}
