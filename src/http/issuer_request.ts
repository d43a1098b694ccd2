import type { RequestHandler } from 'express';

// oidc-provider (Koa) builds every URL it publishes or redirects to (discovery, the interaction
// and end-session pages, resume URLs) from the request's Host, X-Forwarded-Host and
// X-Forwarded-Proto, and takes the client address from the left-most X-Forwarded-For. None of
// that may come from the client: a `Host: evil.example` would name evil.example in discovery (a
// cache-poisoning hazard), and a forged X-Forwarded-For would become the address the library
// sees. So, once Express has worked out the client address under TRUST_PROXY, the request is
// rewritten for everything after it: Host and X-Forwarded-Host are the issuer's, X-Forwarded-Proto
// its scheme (https_only.ts has already refused plain http for an https issuer), and
// X-Forwarded-For holds just the resolved address. The provider trusts these headers
// (create_provider.ts), so it sees what Express derived; Express itself, re-reading them, derives
// the same address again (a trusted proxy now lists only it; an untrusted peer's header is ignored).
export function issuerRequest(issuer: string): RequestHandler {
  const url = new URL(issuer);
  const proto = url.protocol.slice(0, -1);
  return (req, _res, next) => {
    const ip = req.ip;
    req.headers.host = url.host;
    req.headers['x-forwarded-host'] = url.host;
    req.headers['x-forwarded-proto'] = proto;
    if (ip) req.headers['x-forwarded-for'] = ip;
    else delete req.headers['x-forwarded-for'];
    // Re-deriving it would give the same address (above): later reads (the request context, the
    // client-auth lockout, the rate limits) get it without walking the proxy chain again.
    Object.defineProperty(req, 'ip', { value: ip, enumerable: true });
    next();
  };
}
