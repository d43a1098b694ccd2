// How long a sign-in session lives. The library saves a session (and re-sends its cookie) on
// every request that uses it, with the lifetime returned here: an idle limit that each use
// renews, capped by an absolute limit counted from the sign-in. Past either one the session row
// has expired and the user signs in again.

export interface SessionLifetime {
  idleSeconds: number;
  maxSeconds: number;
}

export function sessionTtlSeconds(loginTs: number | undefined, lifetime: SessionLifetime, now = Math.floor(Date.now() / 1000)): number {
  if (!loginTs) return lifetime.idleSeconds;
  const left = loginTs + lifetime.maxSeconds - now;
  // The library refuses a lifetime below one second; a session past its limit is not found anyway.
  return Math.max(1, Math.min(lifetime.idleSeconds, left));
}
