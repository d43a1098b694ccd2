// oidc-provider (>= 9.10) refuses outgoing requests to loopback and private addresses to stop
// SSRF through client-supplied URLs. Our clients come from the admin's config file, so the
// URIs registered there (back-channel logout URIs, private_key_jwt clients' jwks_uri) are
// trusted wherever they point; anything else keeps the library's protection. The set holds
// normalised hrefs (`new URL(uri).href`). The library bounds each request (2.5 s, body size).
//
// A client's key set fetched from its jwks_uri is kept for as long as the answer's
// Cache-Control max-age or Expires says, and at least 60 s (the library's floor, so a flood of
// bad assertions cannot make us fetch on every request). A long max-age would keep a rotated
// key refused for that long: answers are capped at MAX_KEY_SET_AGE_SECONDS here, after which
// the next assertion the cached keys cannot verify fetches the set again.

export const MAX_KEY_SET_AGE_SECONDS = 3600;

/** The answer with its freshness capped: max-age at most the cap, no Expires to outlive it. */
function capFreshness(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.delete('expires');
  const maxAge = /max-age=(\d+)/i.exec(headers.get('cache-control') ?? '');
  const age = maxAge ? Math.min(Number(maxAge[1]), MAX_KEY_SET_AGE_SECONDS) : 0;
  headers.set('cache-control', `max-age=${String(age)}`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

export function createTrustedFetch(trustedUris: () => ReadonlySet<string>) {
  return async (url: URL | string | Request, options?: RequestInit & { dispatcher?: unknown }): Promise<Response> => {
    const href = url instanceof Request ? url.url : new URL(url).href;
    if (options && trustedUris().has(href)) {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      const response = await globalThis.fetch(url, rest);
      return (rest.method ?? 'GET').toUpperCase() === 'GET' ? capFreshness(response) : response;
    }
    return globalThis.fetch(url, options);
  };
}
