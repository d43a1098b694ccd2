import type { RequestHandler } from 'express';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { createLimiter } from './login_throttle.js';
import { ipKey } from './throttle_keys.js';
import { refuseRequest } from '../http/refuse_request.js';

// Requests anyone can send without credentials that make the server store something: an
// authorization request (an interaction), a pushed authorization request, and the sign-in,
// consent and cancel forms. They are counted per client IP (IPv6 by /64, as the sign-in
// throttle does) in the shared limits table, so every instance enforces one budget; over it the
// answer is 429 with Retry-After until the window ends.

export interface RequestRateLimitSettings {
  /** requests per address per window */
  points: number;
  windowSeconds: number;
}

const INTERACTION_POST = /^\/interaction\/[^/]+\/(login|confirm|abort|register|resend-verification|verify-email)$/;

function isLimited(method: string, path: string): boolean {
  if (path === '/auth') return method === 'GET' || method === 'POST';
  if (method !== 'POST') return false;
  return path === '/request' || path === '/verify-email' || INTERACTION_POST.test(path);
}

export function createRequestRateLimit(db: Db, settings: RequestRateLimitSettings): RequestHandler {
  // An address over its budget is refused from memory until its window ends: a flood costs
  // no database write per request on this instance.
  const limiter = createLimiter(db, 'requests', settings.points, settings.windowSeconds, { inMemoryBlockOnConsumed: settings.points + 1 });

  return (req, res, next) => {
    if (!isLimited(req.method, req.path)) {
      next();
      return;
    }
    limiter.consume(ipKey(req.ip)).then(
      () => next(),
      (outcome: unknown) => {
        if (!(outcome instanceof RateLimiterRes)) {
          next(outcome);
          return;
        }
        const retryAfterSeconds = Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
        refuseRequest(req, res, next, {
          status: 429,
          error: 'temporarily_unavailable',
          description: `too many requests from this address; retry in ${retryAfterSeconds} s`,
          retryAfterSeconds,
        });
      },
    );
  };
}
