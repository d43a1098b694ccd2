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
  // helmet's directives here are all constants: its fourteen middlewares set the same headers on
  // every response. They are run once per set of origins against a recording response, and each
  // request then gets that header list in one loop (the profile of a JWKS request showed helmet's
  // chain among its largest costs).
  let headers: [string, string][] = [];
  return (_req, res, next) => {
    const origins = options.formActionOrigins();
    const images = options.imageOrigins();
    if (origins !== cachedFor || images !== cachedImages) {
      cachedFor = origins;
      cachedImages = images;
      headers = recordHeaders(build(origins, images));
    }
    for (const [name, value] of headers) res.setHeader(name, value);
    res.removeHeader('x-powered-by');
    next();
  };
}

/** The headers `middleware` sets, as [name, value] pairs (the request it sees is empty). */
function recordHeaders(middleware: RequestHandler): [string, string][] {
  const set = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => set.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => set.delete(name.toLowerCase()),
  };
  const finished = { synchronously: false };
  middleware(Object.create(null) as Parameters<RequestHandler>[0], recorder as unknown as Parameters<RequestHandler>[1], () => {
    finished.synchronously = true;
  });
  // helmet answers synchronously; were a future version to defer, no header would be missed silently.
  if (!finished.synchronously) throw new Error('security headers: helmet did not finish synchronously');
  return [...set];
}
