// Which client and which redirect URI a refused request named, as sent: for the log line of the
// refusal (provider_events_log.ts) and, outside production, the error page (hosted_provider_pages.ts).

export type RequestCtx = { oidc?: { client?: { clientId?: string }; params?: Record<string, unknown> } } | undefined;

// A request parameter as sent, for a developer finding why a request was refused; cut short,
// since anyone can send anything.
const sent = (value: unknown) => (typeof value === 'string' ? (value.length > 500 ? `${value.slice(0, 500)}…` : value) : undefined);

/**
 * What a developer needs to see why the authorization (or sign-out) request of their app was
 * refused: which client it named and which redirect URI it sent, even when the client is
 * unknown. Only these two parameters: never the request's codes, tokens or secrets.
 */
export function requestDetails(ctx: RequestCtx): { client_id?: string; redirect_uri?: string; post_logout_redirect_uri?: string } {
  const params = ctx?.oidc?.params ?? {};
  const details = {
    client_id: ctx?.oidc?.client?.clientId ?? sent(params.client_id),
    redirect_uri: sent(params.redirect_uri),
    post_logout_redirect_uri: sent(params.post_logout_redirect_uri),
  };
  for (const [key, value] of Object.entries(details)) if (value === undefined) Reflect.deleteProperty(details, key);
  return details;
}
