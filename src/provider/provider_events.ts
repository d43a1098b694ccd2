import type Provider from 'oidc-provider';
import type { errors, KoaContextWithOIDC } from 'oidc-provider';

// The oidc-provider events Gatehouse listens to, each with the arguments it is emitted with
// (docs/events.md; lib/shared/error_handler.js and the actions that emit them). The library's
// typings list only some of these, and for the back-channel events not as our queue emits them
// (backchannel_logout_queue.ts reports its retries with no request and a bare client id).
// Subscribing through onProviderEvent keeps each listener checked against its event.

/** An endpoint's error event: emitted after the endpoint answered an OAuth error. */
type EndpointError = (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => void;

/** What a destroyed token's event carries that a listener may read. */
interface DestroyedToken {
  accountId?: string | undefined;
  clientId?: string | undefined;
  grantId?: string | undefined;
}

/** The client a back-channel event names: the library passes its Client, our queue `{ clientId }`. */
interface BackchannelClient {
  clientId: string;
}

export interface ProviderEvents {
  'authorization.error': EndpointError;
  'discovery.error': EndpointError;
  'end_session.error': EndpointError;
  'grant.error': EndpointError;
  'introspection.error': EndpointError;
  'jwks.error': EndpointError;
  'pushed_authorization_request.error': EndpointError;
  'registration_create.error': EndpointError;
  'revocation.error': EndpointError;
  'userinfo.error': EndpointError;
  /** any exception an endpoint answered with 500 server_error (not necessarily an OAuth error) */
  server_error: (ctx: KoaContextWithOIDC, error: Error) => void;
  /** a token was issued at the token endpoint */
  'grant.success': (ctx: KoaContextWithOIDC) => void;
  /** a grant and its tokens were revoked (sign-out, revocation, or a replayed code or refresh token) */
  'grant.revoked': (ctx: KoaContextWithOIDC, grantId: string) => void;
  'end_session.success': (ctx: KoaContextWithOIDC) => void;
  /** `ctx` is undefined when the retry queue sent the notice outside any request */
  'backchannel.success': (ctx: KoaContextWithOIDC | undefined, client: BackchannelClient, accountId: string, sid: string | undefined) => void;
  'backchannel.error': (ctx: KoaContextWithOIDC | undefined, error: Error, client: BackchannelClient, accountId: string, sid: string | undefined) => void;
  // A model's `destroyed` event carries the model only; the request is Provider.ctx.
  'access_token.destroyed': (token: DestroyedToken) => void;
  'refresh_token.destroyed': (token: DestroyedToken) => void;
  'client_credentials.destroyed': (token: DestroyedToken) => void;
}

export type ProviderEventName = keyof ProviderEvents;

/** Subscribes `listener` to `event` on this provider. */
export function onProviderEvent<E extends ProviderEventName>(provider: Provider, event: E, listener: ProviderEvents[E]): void {
  // The typings' overloads cover only some of these events, so the call goes through a plain signature.
  const on = provider.on.bind(provider) as (event: string, listener: (...args: never[]) => void) => unknown;
  on(event, listener);
}
