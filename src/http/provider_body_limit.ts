import type { RequestHandler } from 'express';
import { GatehouseError } from '../core/errors.js';

// oidc-provider reads its own request bodies and refuses one over 56 kB
// (its lib/shared/selective_body.js) with a bare 400 "failed to parse the request body", which
// does not say what was wrong. A body declared (Content-Length) larger than that is refused here
// instead, before the provider reads any of it: 413 with an OAuth error body that says why, or
// the "Request too large" page for a browser. Without a Content-Length (chunked), the provider's
// own 400 still applies.

/** oidc-provider's limit on the request bodies it parses. */
const PROVIDER_BODY_LIMIT_BYTES = 56 * 1024;

/** A body declared larger than the provider reads: the "Request too large" page. */
export class RequestTooLarge extends GatehouseError {
  constructor() {
    super('ERR_REQUEST_TOO_LARGE', 'request entity too large', { status: 413, error: 'request_too_large' });
  }
}

export function providerBodyLimit(limitBytes = PROVIDER_BODY_LIMIT_BYTES): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.headers['content-length']);
    if (!(declared > limitBytes)) {
      next();
      return;
    }
    // The same choice the provider makes between its error page and a JSON error.
    if (req.accepts(['json', 'html']) === 'html') {
      next(new RequestTooLarge());
      return;
    }
    res
      .status(413)
      .set('cache-control', 'no-store')
      .json({ error: 'invalid_request', error_description: `the request body is larger than ${limitBytes / 1024} kB` });
  };
}
