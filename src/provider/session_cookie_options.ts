// The options oidc-provider sets its long-lived (sign-in session) cookies with, shared with
// whatever else writes that cookie (the account page re-signs it after a cookie key rotation).
// Over https the session cookie is SameSite=None so silent sign-in (prompt=none in an iframe) and
// POST to /auth and /session/end work across sites; over plain http (development) browsers refuse
// None without Secure, so it stays Lax. Path is `/` and Secure follows the request (the cookies
// library's defaults, as for the provider).
export function sessionCookieOptions(secureCookies: boolean) {
  return { signed: true, httpOnly: true, sameSite: secureCookies ? 'none' : 'lax' } as const;
}
