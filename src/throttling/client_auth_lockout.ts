import { setTimeout as sleep } from 'node:timers/promises';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../core/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientAuthThrottle } from './client_auth_throttle.js';
import type { AuditLog } from '../audit/audit_log.js';
import { hasNul } from '../core/nul_characters.js';
import { currentRequest } from '../core/request_context.js';
import { setRetryAfter } from '../http/retry_after.js';

// Puts client_auth_throttle.ts in front of every endpoint where a client authenticates.
//
// - Refusing: the client id is known only once the library has read it (from the Basic header,
//   the form body or a client assertion), and the body must be left for the library to parse.
//   The one moment it is known and the secret not yet checked is the look-up of the client by
//   that id: Client.find, wrapped here. While the client is locked for the request's source
//   address (client_auth_throttle.ts) the look-up throws a 429 error, which the endpoint's own
//   error handler renders as an OAuth error body; while the client is under attack from many
//   addresses the look-up waits a moment first. The address is Express's req.ip, as everywhere.
// - Counting: the endpoint's error event says that client authentication failed
//   (InvalidClientAuth) for a registered client; middleware around the request then records it
//   before the response leaves, so the next request already sees the count. The provider's
//   extension installer subscribes the returned listener to CLIENT_AUTH_ERROR_EVENTS.

const CLIENT_AUTH_ROUTES = new Set(['token', 'introspection', 'revocation', 'pushed_authorization_request']);
/** The error events of the endpoints in CLIENT_AUTH_ROUTES. */
export const CLIENT_AUTH_ERROR_EVENTS = ['grant.error', 'introspection.error', 'revocation.error', 'pushed_authorization_request.error'] as const;

/** An endpoint's error event, as oidc-provider emits it. */
type EndpointErrorListener = (ctx: KoaContextWithOIDC, error: unknown) => void;

class ClientAuthLocked extends errors.OIDCProviderError {
  constructor() {
    super(429, 'invalid_client');
    this.error_description = 'too many failed client authentication attempts; retry later';
  }
}

export interface ClientAuthLockoutDeps {
  throttle: ClientAuthThrottle;
  log: Logger;
  metrics: Pick<Metrics, 'lockout'>;
  audit: Pick<AuditLog, 'record'>;
}

/** The client's address as Express sees it (req.ip, TRUST_PROXY applied); the provider's own when outside a request. */
const sourceOf = (ctx: { ip: string }) => currentRequest()?.ip ?? ctx.ip;

/**
 * Wraps the provider's client look-up and counts failures after each request. Returns the
 * listener for CLIENT_AUTH_ERROR_EVENTS that marks a request's failed client authentication.
 */
export function limitClientAuthFailures(provider: Provider, { throttle, log, metrics, audit }: ClientAuthLockoutDeps): EndpointErrorListener {
  const failed = new WeakSet<object>();
  const noteFailure: EndpointErrorListener = (ctx, error) => {
    // "client not found" has no client: unknown ids are not counted (nothing to lock). Nor are
    // public clients: they have no secret to guess, and locking them would only be a way to
    // stop a browser or mobile app from redeeming its codes.
    const client = ctx.oidc.client;
    if (error instanceof errors.InvalidClientAuth && client && client.clientAuthMethod !== 'none') failed.add(ctx);
  };

  const Client = provider.Client;
  const find = Client.find.bind(Client);
  Client.find = async (id: string) => {
    const ctx = Provider.ctx;
    // Before the endpoint has a client, the look-up is the one client authentication makes.
    // An id with a NUL names no client (and Postgres could not look it up): nothing to lock.
    const authenticating = ctx && CLIENT_AUTH_ROUTES.has(ctx.oidc.route) && !ctx.oidc.client && typeof id === 'string' && !hasNul(id);
    const client = await find(id);
    // Only registered confidential clients are ever counted, so only they can be locked: an
    // unknown id or a public client costs no look-up of the count.
    if (authenticating && client && client.clientAuthMethod !== 'none') {
      const ip = sourceOf(ctx);
      if (throttle.knownClear(id, ip)) return client;
      const [retryAfter, slowdown] = await Promise.all([throttle.lockedFor(id, ip), throttle.slowdownFor(id)]);
      if (retryAfter > 0) {
        log.info(
          { event: 'client_auth.throttled', client_id: id, ip, route: ctx.oidc.route, retry_after: retryAfter },
          'client authentication refused: locked after too many failures from this address',
        );
        setRetryAfter(ctx, retryAfter);
        throw new ClientAuthLocked();
      }
      if (slowdown > 0) {
        log.info(
          { event: 'client_auth.slowed', client_id: id, ip, route: ctx.oidc.route, delay_ms: slowdown },
          'client authentication slowed: many failures from many addresses',
        );
        await sleep(slowdown);
      }
    }
    return client;
  };

  provider.use(async (ctx, next) => {
    await next();
    if (!failed.has(ctx)) return;
    // Only a request with a client is ever marked failed (and only those have an `oidc` context).
    const client = (ctx as KoaContextWithOIDC).oidc.client;
    if (!client) return;
    const clientId = client.clientId;
    const ip = sourceOf(ctx);
    const origin = { clientId, ip, userAgent: ctx.get('user-agent') || undefined };
    await audit.record({ event: 'client_auth.failure', ...origin, details: { route: (ctx as KoaContextWithOIDC).oidc.route } });
    try {
      const lockoutSeconds = await throttle.failed(clientId, ip);
      if (lockoutSeconds) {
        metrics.lockout('client');
        // The audit trail also writes the log line (a warning, event client_auth.locked).
        await audit.record({ event: 'client_auth.locked', ...origin, details: { lockout_seconds: lockoutSeconds } });
      }
    } catch (error) {
      // The 401 stands; only the count is lost.
      log.warn({ event: 'client_auth.count_failed', client_id: clientId, err: error }, 'could not count a failed client authentication');
    }
  });
  return noteFailure;
}
