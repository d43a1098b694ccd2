// Every answer that asks to be retried later (429 from a throttle, 503 while the database is
// away) says when in one way: Retry-After as a whole number of seconds (RFC 9110 §10.2.3 allows
// no fractions), rounded up so a client never comes back before the wait is over.

/** Express's `res` and Koa's `ctx` both set a header this way. */
interface HeaderTarget {
  set(field: string, value: string): unknown;
}

export function setRetryAfter(target: HeaderTarget, seconds: number): void {
  target.set('retry-after', String(Math.max(0, Math.ceil(seconds))));
}
