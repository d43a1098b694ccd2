import type { RequestHandler } from 'express';
import { refuseRequest } from './refuse_request.js';

// The library keeps every parameter of an authorization request: in the interaction while the
// user signs in (up to Node's 16 kB request head from one GET /auth), and a pushed request (PAR)
// as a JWT of its parameters (up to its 56 kB body limit, ~67 kB once stored). Anyone can send
// those, so they are capped before the provider sees them; real requests, signed request
// objects included, are a few kB.

/** The largest query string GET /auth takes, in bytes as sent (percent-encoded). */
export const MAX_AUTHORIZATION_QUERY_BYTES = 8 * 1024;
/** The largest body POST /auth and POST /request (PAR) take, in bytes. */
export const MAX_AUTHORIZATION_BODY_BYTES = 8 * 1024;

const AUTHORIZATION_PATHS = new Set(['/auth', '/request']);

export function limitAuthorizationRequestSize(): RequestHandler {
  return (req, res, next) => {
    if (!AUTHORIZATION_PATHS.has(req.path)) {
      next();
      return;
    }
    const query = req.originalUrl.indexOf('?');
    const queryBytes = query < 0 ? 0 : req.originalUrl.length - query - 1;
    if (queryBytes > MAX_AUTHORIZATION_QUERY_BYTES) {
      refuseRequest(req, res, next, {
        status: 400,
        error: 'invalid_request',
        description: `the request parameters are longer than ${MAX_AUTHORIZATION_QUERY_BYTES / 1024} kB`,
      });
      return;
    }
    if (req.method !== 'POST') {
      next();
      return;
    }
    const declared = req.headers['content-length'];
    // A chunked body would be read up to the provider's own limit before anything could count it.
    if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
      refuseRequest(req, res, next, { status: 411, error: 'invalid_request', description: 'the request body must have a Content-Length' });
      return;
    }
    if (Number(declared) > MAX_AUTHORIZATION_BODY_BYTES) {
      refuseRequest(req, res, next, {
        status: 413,
        error: 'invalid_request',
        description: `the request parameters are longer than ${MAX_AUTHORIZATION_BODY_BYTES / 1024} kB`,
      });
      return;
    }
    next();
  };
}
