import type { RequestHandler } from 'express';

// With an https:// issuer, nothing but https is served: a sign-in over plain http would hand out
// interaction and session cookies without `Secure` and a code over a readable connection, and
// discovery fetched over http would name http:// endpoints. A request counts as https only when
// it arrived over TLS or a trusted proxy (TRUST_PROXY) says X-Forwarded-Proto: https; anything
// else is sent, before any routing, to the same path on the issuer (308 keeps method and body).
// Probes are exempt: load balancers and Prometheus call the port directly over http, and these
// answer nothing a browser keeps.
const PLAIN_HTTP_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export function httpsOnly(issuer: string): RequestHandler {
  const origin = new URL(issuer).origin;
  return (req, res, next) => {
    if (req.protocol === 'https' || PLAIN_HTTP_PATHS.has(req.path)) {
      next();
      return;
    }
    res.set('cache-control', 'no-store');
    res.redirect(308, `${origin}${req.originalUrl.startsWith('/') ? req.originalUrl : '/'}`);
  };
}
