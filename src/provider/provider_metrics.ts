import type Provider from 'oidc-provider';
import type { Metrics } from '../observability/metrics.js';
import { onProviderEvent } from './provider_events.js';

// The metrics oidc-provider's events feed: tokens issued by grant type and client, back-channel
// logout deliveries by outcome (the library's own and the retry queue's, reported alike).

type Ctx = { oidc?: { params?: { grant_type?: unknown }; client?: { clientId: string } } };

// The token endpoint has already refused a request without a grant_type; a string is all it accepts.
const grantTypeOf = (ctx: Ctx) => {
  const grantType = ctx.oidc?.params?.grant_type;
  return typeof grantType === 'string' ? grantType : 'unknown';
};

export function countProviderEvents(provider: Provider, metrics: Pick<Metrics, 'tokenIssued' | 'backchannelDelivery'>): void {
  onProviderEvent(provider, 'grant.success', (ctx: Ctx) => {
    metrics.tokenIssued(grantTypeOf(ctx), ctx.oidc?.client?.clientId ?? 'unknown');
  });
  onProviderEvent(provider, 'backchannel.success', () => {
    metrics.backchannelDelivery('success');
  });
  onProviderEvent(provider, 'backchannel.error', () => {
    metrics.backchannelDelivery('failure');
  });
}
