import type Provider from 'oidc-provider';
import type { Logger } from '../core/log.js';
import { isDatabaseUnavailable, unavailableReason } from '../core/database_unavailable.js';
import { onProviderEvent, type ProviderEventName } from './provider_events.js';
import { requestDetails, type RequestCtx } from './request_details.js';

// oidc-provider reports through events; this is the one place that turns them into log lines.
// Only identifiers are logged (client ids, account ids, error codes), never token values.

interface OidcError {
  error?: string;
  error_description?: string;
  status?: number;
  statusCode?: number;
  message?: string;
}

const ERROR_EVENTS = [
  'authorization.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'revocation.error',
  'userinfo.error',
  'server_error',
] as const satisfies readonly ProviderEventName[];

type Ctx = RequestCtx & ({ oidc?: { route?: string } } | undefined);

const clientOf = (ctx: Ctx) => ctx?.oidc?.client?.clientId;

const WITH_REQUEST_DETAILS: ReadonlySet<string> = new Set(['authorization.error', 'pushed_authorization_request.error', 'end_session.error']);

export function logProviderEvents(provider: Provider, log: Logger): void {
  const l = log.child({ component: 'oidc' });

  for (const name of ERROR_EVENTS) {
    onProviderEvent(provider, name, (ctx: Ctx, error: OidcError) => {
      if (isDatabaseUnavailable(error)) {
        // Answered 503 (database_outage.ts): an operational state, not a bug; no stack per request.
        l.warn({ event: 'db.unavailable', route: ctx?.oidc?.route, client_id: clientOf(ctx), reason: unavailableReason(error) }, 'database unavailable');
        return;
      }
      const status = error.statusCode ?? error.status ?? 500;
      const entry = {
        event: name,
        client_id: clientOf(ctx),
        ...(WITH_REQUEST_DETAILS.has(name) ? requestDetails(ctx) : {}),
        error: error.error ?? error.message,
        error_description: error.error_description,
      };
      if (name === 'server_error' || status >= 500) l.error({ ...entry, err: error }, `oidc ${name}`);
      else l.warn(entry, `oidc ${name}`);
    });
  }

  onProviderEvent(provider, 'backchannel.error', (_ctx, error, client, accountId, sid) => {
    l.warn({ event: 'backchannel.error', client_id: client.clientId, sub: accountId, sid, error: error.message }, 'back-channel logout failed');
  });
  onProviderEvent(provider, 'backchannel.success', (_ctx, client, accountId, sid) => {
    l.info({ event: 'backchannel.success', client_id: client.clientId, sub: accountId, sid }, 'back-channel logout delivered');
  });
  onProviderEvent(provider, 'grant.success', (ctx: Ctx) => {
    l.info({ event: 'grant.success', client_id: clientOf(ctx) }, 'token issued');
  });
  onProviderEvent(provider, 'grant.revoked', (ctx: Ctx, grantId) => {
    l.info({ event: 'grant.revoked', client_id: clientOf(ctx), grant_id: grantId }, 'grant revoked');
  });
  onProviderEvent(provider, 'end_session.success', (ctx: Ctx) => {
    l.info({ event: 'end_session.success', client_id: clientOf(ctx) }, 'signed out');
  });
}
