import type { NextFunction, Request, Response } from 'express';
import { requestContext, withReadAhead } from './read_ahead.js';

// What travels with the request being served, through oidc-provider's handlers, which give us
// no other way to pass it: who is on the other end, what the storage adapter records on a new
// session (shown on /account and by `gatehouse sessions list`). The rows the adapter reads
// ahead for the same request are read_ahead.ts, which keeps this context in the same store.

export interface RequestContext {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

export function currentRequest(): RequestContext | undefined {
  return requestContext() as RequestContext | undefined;
}

/** Express middleware: the rest of the request runs with its context (and its read-ahead rows) available. */
export function trackRequestContext(req: Request, _res: Response, next: NextFunction): void {
  // Worked out only when asked for (a new session): most requests never need them.
  const context: RequestContext = {
    get ip() {
      return req.ip;
    },
    get userAgent() {
      const userAgent = req.get('user-agent');
      return userAgent ? userAgent.slice(0, 512) : undefined;
    },
  };
  withReadAhead(next, context);
}
