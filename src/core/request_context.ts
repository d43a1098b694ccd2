import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';

// What travels with the request being served, through oidc-provider's handlers, which give us
// no other way to pass it:
// - who is on the other end: what the storage adapter records on a new session (shown on
//   /account and by `gatehouse sessions list`);
// - rows read ahead: the adapter reads a token together with its grant, its session and its
//   user in one statement, and keeps those for the look-ups the library makes next in the same
//   request (Grant.find, Session.findByUid, findAccount), which then cost no round trip.

export interface RequestContext {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

interface Store extends RequestContext {
  readAhead: Map<string, unknown> | undefined;
}

const storage = new AsyncLocalStorage<Store>();

export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Keeps a row read along with another for a look-up later in this request; outside one, nothing is kept. */
export function keepForRequest(key: string, value: unknown): void {
  const store = storage.getStore();
  if (store) (store.readAhead ??= new Map()).set(key, value);
}

/** The row kept under `key`, handed out once: a second look-up reads the database again. */
export function takeFromRequest<T>(key: string): T | undefined {
  const readAhead = storage.getStore()?.readAhead;
  const value = readAhead?.get(key);
  if (value !== undefined) readAhead?.delete(key);
  return value as T | undefined;
}

/** After a write in this request, rows read before it may be out of date. */
export function forgetRequestReads(): void {
  storage.getStore()?.readAhead?.clear();
}

/** Express middleware: the rest of the request runs with its context available. */
export function trackRequestContext(req: Request, _res: Response, next: NextFunction): void {
  // Worked out only when asked for (a new session): most requests never need them.
  const store: Store = {
    get ip() {
      return req.ip;
    },
    get userAgent() {
      const userAgent = req.get('user-agent');
      return userAgent ? userAgent.slice(0, 512) : undefined;
    },
    readAhead: undefined,
  };
  storage.run(store, next);
}
