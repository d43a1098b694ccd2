import type Provider from 'oidc-provider';

// RFC 8252 7.3 and 8.3: a native app listens on a loopback port the operating system picks at
// sign-in, so a registered `http://127.0.0.1/callback` must match any port. oidc-provider does
// that already for native clients, but only on the registered host: an app whose listener got an
// IPv6 socket (`http://[::1]:53123/callback`) was refused although the RFC treats both loopback
// literals alike. Here a native client's loopback redirect (or post-logout redirect) is also
// allowed when it matches with the other loopback literal. `localhost` is left as registered: it
// is a name, resolved by whatever the machine says (RFC 8252 8.3 advises against it).

const OTHER_LOOPBACK: Readonly<Record<string, string>> = { '127.0.0.1': '[::1]', '[::1]': '127.0.0.1' };

/** The same URI on the other loopback literal, or undefined when it is no http loopback URI. */
function otherLoopback(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  const other = OTHER_LOOPBACK[url.hostname];
  if (url.protocol !== 'http:' || other === undefined) return undefined;
  url.hostname = other;
  // The library compares strings: keep the rest of the request's URI exactly as it was sent.
  return uri.replace(/^http:\/\/[^/?#]*/i, `http://${url.host}`);
}

type RedirectCheck = (this: { applicationType?: string }, value: string) => boolean;

function withOtherLoopback(check: RedirectCheck): RedirectCheck {
  return function allowed(value) {
    if (check.call(this, value)) return true;
    if (this.applicationType !== 'native') return false;
    const other = otherLoopback(value);
    return other !== undefined && check.call(this, other);
  };
}

export function allowEitherLoopbackForNativeApps(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as Record<'redirectUriAllowed' | 'postLogoutRedirectUriAllowed', RedirectCheck>;
  proto.redirectUriAllowed = withOtherLoopback(proto.redirectUriAllowed);
  proto.postLogoutRedirectUriAllowed = withOtherLoopback(proto.postLogoutRedirectUriAllowed);
}
