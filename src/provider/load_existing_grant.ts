import type { KoaContextWithOIDC, Grant } from 'oidc-provider';
import type { ConsentsRepo, Consent } from '../storage/consents_repo.js';
import { PROTOCOL_CLAIMS, type ScopeClaims } from '../accounts/scope_claims.js';
import type { ResourceServers } from './resource_servers.js';
import { skipsConsent } from './skips_consent.js';
import { limitRequestClaims } from './claims_parameter.js';
import { addToGrant, grantedOIDCScope } from './grant_consent.js';

// Which grant an authorization request continues. The library's default only looks in the
// current session; we also look up what the user consented to before (in any session), so a
// returning user is asked only for what is new. First-party clients (`skip_consent`) get what
// they ask for without a consent screen, which is never more than the scopes they are
// registered for and the claims those scopes cover (grant_consent.ts).

function requested(ctx: KoaContextWithOIDC, resources: ResourceServers): Consent {
  const scope = ((ctx.oidc.params as { scope?: string }).scope ?? '').split(' ').filter(Boolean);
  const resourceScopes: Record<string, string[]> = {};
  const oidcScope: string[] = [];
  for (const s of scope) {
    const owner = resources.ownerOf(s);
    if (owner) (resourceScopes[owner] ??= []).push(s);
    else oidcScope.push(s);
  }
  const claims = claimNames(ctx.oidc.claims as Record<string, unknown>);
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

/**
 * Requested claims that the grant's scopes already cover tell the client nothing the user has
 * not agreed to: they join the grant without a consent page. True if the grant changed.
 */
function addCoveredClaims(scopeClaims: ScopeClaims, grant: Grant, claims: string[]): boolean {
  const held = new Set(grant.getOIDCClaims());
  const covered = scopeClaims.claimsWithinScopes(claims, grantedOIDCScope(grant)).filter((c) => !PROTOCOL_CLAIMS.has(c) && !held.has(c));
  if (covered.length) grant.addOIDCClaims(covered);
  return covered.length > 0;
}

export function createLoadExistingGrant(consents: ConsentsRepo, resources: ResourceServers, scopeClaims: ScopeClaims) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
    const { client, session, provider } = ctx.oidc;
    if (!client || !session?.accountId) return undefined;
    // A sign-in resumed from an interaction stored before claims were limited to scopes.
    limitRequestClaims(ctx, scopeClaims);
    const wanted = requested(ctx, resources);

    const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    let grant = grantId ? await provider.Grant.find(grantId) : undefined;

    if (skipsConsent(client)) {
      grant ??= new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      addToGrant(scopeClaims, grant, wanted);
      await grant.save();
      return grant;
    }
    if (grant) {
      if (addCoveredClaims(scopeClaims, grant, wanted.claims)) await grant.save();
      return grant;
    }

    const remembered = await consents.find(session.accountId, client.clientId);
    if (!remembered) return undefined;
    grant = new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    // A consent remembered by an earlier release may name claims its scopes do not cover.
    addToGrant(scopeClaims, grant, remembered);
    addCoveredClaims(scopeClaims, grant, wanted.claims);
    await grant.save();
    return grant;
  };
}
