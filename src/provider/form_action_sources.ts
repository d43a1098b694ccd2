// The Content-Security-Policy `form-action` sources a client's registered URI needs: Chromium
// applies form-action to the whole redirect chain after a form post (login or consent → /auth
// → the client's redirect_uri), so a redirect the policy does not list is blocked. A web
// client's URI is matched exactly: its origin. A native app's loopback URI matches any port
// (native_loopback_redirects.ts), so its source is the loopback host on any port; a private-use
// scheme (`com.example.app:/callback`) is a scheme source. CSP host sources cannot spell an IPv6
// literal, so a redirect to `http://[::1]:<port>` after a form post is still up to the browser.

const LOOPBACK_IPS = new Set(['127.0.0.1', 'localhost']);

export function formActionSources(uri: string, applicationType: 'web' | 'native' | undefined): string[] {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return [];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return applicationType === 'native' ? [url.protocol] : [];
  if (applicationType === 'native' && url.protocol === 'http:' && LOOPBACK_IPS.has(url.hostname)) return [`http://${url.hostname}:*`];
  return [url.origin];
}
