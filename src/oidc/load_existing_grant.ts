import type { KoaContextWithOIDC, Grant } from 'oidc-provider';
import type { ConsentsRepo, Consent } from '../accounts/consents_repo.js';
import type { ResourceServers } from './resource_servers.js';
import { skipsConsent } from './skips_consent.js';

// Which grant an authorization request continues. The library's default only looks in the
// current session; we also look up what the user consented to before (in any session), so a
// returning user is asked only for what is new. First-party clients (`skip_consent`) get what
// they ask for without a consent screen.

function requested(ctx: KoaContextWithOIDC, resources: ResourceServers): Consent {
  const scope = ((ctx.oidc.params as { scope?: string }).scope ?? '').split(' ').filter(Boolean);
  const resourceScopes: Record<string, string[]> = {};
  const oidcScope: string[] = [];
  for (const s of scope) {
    const owner = resources.ownerOf(s);
    if (owner) (resourceScopes[owner] ??= []).push(s);
    else oidcScope.push(s);
  }
  const claims = ctx.oidc.claims ? claimNames(ctx.oidc.claims as Record<string, unknown>) : [];
  return { scope: oidcScope, claims, resourceScopes };
}

function claimNames(claims: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const part of ['id_token', 'userinfo']) {
    const section = claims[part];
    if (section && typeof section === 'object') for (const name of Object.keys(section)) names.add(name);
  }
  return [...names];
}

function applyConsent(grant: Grant, consent: Consent): void {
  if (consent.scope.length) grant.addOIDCScope(consent.scope.join(' '));
  if (consent.claims.length) grant.addOIDCClaims(consent.claims);
  for (const [indicator, scopes] of Object.entries(consent.resourceScopes)) {
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
}

export function createLoadExistingGrant(consents: ConsentsRepo, resources: ResourceServers) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
    const { client, session, provider } = ctx.oidc;
    if (!client || !session?.accountId) return undefined;
    const skipConsent = skipsConsent(client);

    const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    let grant = grantId ? await provider.Grant.find(grantId) : undefined;

    if (skipConsent) {
      grant ??= new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      applyConsent(grant, requested(ctx, resources));
      await grant.save();
      return grant;
    }
    if (grant) return grant;

    const remembered = await consents.find(session.accountId, client.clientId);
    if (!remembered) return undefined;
    grant = new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    applyConsent(grant, remembered);
    await grant.save();
    return grant;
  };
}
