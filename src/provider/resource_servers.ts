import { errors, type Client, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ApiConfig } from '../config/gatehouse_config.js';

// The config file's `apis` as oidc-provider resource servers (RFC 8707). A request for an API's
// scope without a `resource` parameter is for the API that owns the scope.

export interface ResourceServers {
  readonly scopes: string[];
  byIdentifier(identifier: string): ApiConfig | undefined;
  /** the identifier of the API that owns `scope` (each API scope has exactly one owner) */
  ownerOf(scope: string): string | undefined;
  defaultResource(ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]): Promise<string | readonly string[] | undefined>;
  getResourceServerInfo(ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client): Promise<ResourceServer>;
  useGrantedResource(ctx: KoaContextWithOIDC): Promise<boolean>;
}

function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  const scope = (ctx.oidc.params as { scope?: unknown } | undefined)?.scope;
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

export function createResourceServers(apis: readonly ApiConfig[]): ResourceServers {
  const byIdentifier = new Map(apis.map((api) => [api.identifier, api]));
  const ownerOfScope = new Map(apis.flatMap((api) => api.scopes.map((scope) => [scope, api.identifier] as const)));

  const ownersOf = (scopes: string[]) => [...new Set(scopes.map((s) => ownerOfScope.get(s)).filter((x): x is string => !!x))];

  return {
    scopes: [...ownerOfScope.keys()],
    byIdentifier: (identifier) => byIdentifier.get(identifier),
    ownerOf: (scope) => ownerOfScope.get(scope),

    async defaultResource(ctx, _client, oneOf) {
      const owners = ownersOf(requestedScopes(ctx));
      if (oneOf) {
        // Token endpoint with several granted resources: the requested scopes pick one.
        const matching = oneOf.filter((r) => owners.includes(r));
        if (matching.length === 1) return matching[0];
        return oneOf.length === 1 ? oneOf[0] : oneOf;
      }
      if (owners.length === 0) return undefined;
      return owners.length === 1 ? owners[0] : owners;
    },

    async getResourceServerInfo(_ctx, resourceIndicator, client) {
      const api = byIdentifier.get(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown resource "${resourceIndicator}"`);
      // A client may only get the API scopes its registration lists.
      const allowed = client.scope ? new Set(client.scope.split(' ')) : undefined;
      const scopes = api.scopes.filter((s) => !allowed || allowed.has(s));
      if (scopes.length === 0) throw new errors.InvalidTarget(`client is not allowed to access "${resourceIndicator}"`);
      return {
        scope: scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: api.access_token_ttl,
        accessTokenFormat: api.access_token_format,
        ...(api.access_token_format === 'jwt' ? { jwt: { sign: { alg: api.signing_alg } } } : {}),
      };
    },

    // At the token endpoint a grant that includes an API issues that API's token, even beside
    // openid; but a refresh that asks for OpenID scopes only wants a userinfo token, and
    // keeping the API as audience would give an API token with no scope at all.
    async useGrantedResource(ctx) {
      const asked = requestedScopes(ctx);
      return asked.length === 0 || asked.some((s) => ownerOfScope.has(s));
    },
  };
}
