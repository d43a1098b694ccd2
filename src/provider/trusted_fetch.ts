// oidc-provider (>= 9.10) refuses outgoing requests to loopback and private addresses to stop
// SSRF through client-supplied URLs. Our clients come from the admin's config file, so the
// back-channel logout URIs registered there are trusted wherever they point; anything else
// keeps the library's protection. The set holds normalised hrefs (`new URL(uri).href`).
export function createTrustedFetch(trustedUris: () => ReadonlySet<string>) {
  return (url: URL | string | Request, options?: RequestInit & { dispatcher?: unknown }): Promise<Response> => {
    const href = url instanceof Request ? url.url : new URL(url).href;
    if (options && trustedUris().has(href)) {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  };
}
