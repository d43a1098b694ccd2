import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import { onProviderEvent } from './provider_events.js';

// What oidc-provider does on the user's behalf, turned into audit events: sign-out at the
// end-session endpoint, revocation at the revocation endpoint, and the whole grant revoked when
// an authorization code or refresh token is presented twice. The library reports these through
// events; nothing here changes what it does.

type Ctx = KoaContextWithOIDC;

// The library emits `<snake_case model>.destroyed` with the token; its token_type is the same name.
const DESTROYED_TOKEN_TYPES = ['access_token', 'refresh_token', 'client_credentials'] as const;

// A model's `destroyed` event carries no context; the library keeps the request's in
// AsyncLocalStorage and exposes it as Provider.ctx: none outside the provider's requests, and
// no `oidc` on it before the library's route has set one up.
type RequestCtx = Pick<Ctx, 'ip' | 'get'> & { oidc?: Ctx['oidc'] };
const currentCtx = () => (Provider as unknown as { ctx?: RequestCtx }).ctx;

export function auditProviderEvents(provider: Provider, audit: AuditLog): void {
  onProviderEvent(provider, 'end_session.success', (ctx) => {
    const { session, client, params } = ctx.oidc;
    if (!session?.accountId) return; // nobody was signed in
    const authorizations = Object.entries(session.authorizations ?? {});
    // With logout=yes every client's session ended; otherwise only the requesting client's
    // (whose entry the library has removed by now).
    const everywhere = Boolean((params as { logout?: string } | undefined)?.logout);
    void audit.record({
      event: 'logout',
      accountId: session.accountId,
      clientId: client?.clientId,
      ...requestOrigin(ctx),
      details: {
        everywhere,
        clients: everywhere ? authorizations.map(([clientId]) => clientId) : client ? [client.clientId] : [],
        sids: authorizations.flatMap(([, a]) => (a.sid ? [a.sid] : [])),
      },
    });
  });

  for (const tokenType of DESTROYED_TOKEN_TYPES) {
    onProviderEvent(provider, `${tokenType}.destroyed`, (token) => {
      const ctx = currentCtx();
      // Tokens are also destroyed on a refresh-token replay: that is token.replayed below.
      // A token may be destroyed outside the library's routes, where the context has no `oidc`.
      const oidc = ctx?.oidc;
      if (!ctx || oidc?.route !== 'revocation') return;
      void audit.record({
        event: 'token.revoked',
        accountId: token.accountId,
        clientId: oidc.client?.clientId ?? token.clientId,
        ...requestOrigin(ctx),
        details: { token_type: tokenType, ...(token.grantId ? { grant_id: token.grantId } : {}) },
      });
    });
  }

  onProviderEvent(provider, 'grant.revoked', (ctx, grantId) => {
    // At the token endpoint a grant is revoked only when a code or refresh token is replayed;
    // elsewhere it is part of a sign-out or a revocation, audited above.
    if (ctx.oidc.route !== 'token') return;
    const { entities, params } = ctx.oidc;
    const source = entities.RefreshToken ?? entities.Grant;
    void audit.record({
      event: 'token.replayed',
      // Known for a refresh token; a replayed code's grant is gone before anything names its account.
      accountId: source?.accountId,
      clientId: ctx.oidc.client?.clientId,
      ...requestOrigin(ctx),
      details: { token_type: (params as { grant_type?: string } | undefined)?.grant_type, grant_id: grantId },
    });
  });
}
