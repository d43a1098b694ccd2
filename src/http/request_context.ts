import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';

// Who is on the other end of the request being served: what the storage adapter records on a
// new session (shown on /account and by `gatehouse sessions list`). oidc-provider saves sessions
// deep inside its own handlers, so this travels with the request's async context instead of
// through the library's calls.

export interface RequestContext {
  ip: string | undefined;
  userAgent: string | undefined;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Express middleware: the rest of the request runs with its context available. */
export function trackRequestContext(req: Request, _res: Response, next: NextFunction): void {
  const userAgent = req.get('user-agent');
  storage.run({ ip: req.ip, userAgent: userAgent ? userAgent.slice(0, 512) : undefined }, next);
}
