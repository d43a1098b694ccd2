import Provider, { type Configuration, type KoaContextWithOIDC, type Client } from 'oidc-provider';
import type { Env } from '../config/env.js';
import type { Db } from '../db/db.js';
import { createFindAccount } from '../accounts/find_account.js';
import type { ScopeClaims } from '../accounts/scope_claims.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { ConsentsRepo } from '../storage/consents_repo.js';
import type { RenderPage } from '../pages/render_page.js';
import { createPostgresAdapter } from '../storage/postgres_adapter.js';
import type { Caches } from '../cache/caches.js';
import type { LoadedKeys } from '../keys/key_store.js';
import type { ResourceServers } from './resource_servers.js';
import { createProviderPages } from './hosted_provider_pages.js';
import { createLoadExistingGrant } from './load_existing_grant.js';
import { createTrustedFetch } from './trusted_fetch.js';
import { sessionTtlSeconds } from './session_lifetime.js';
import { sessionCookieOptions } from './session_cookie_options.js';
import { limitClaimsParameter } from './claims_parameter.js';
import { createApiTokenClaims } from './api_token_claims.js';
import { recordUpstreamInSessions, withUpstreamSessions } from './upstream_sessions.js';
import { ACR_VALUES, createInteractionPolicy } from './mfa_policy.js';
import { deviceFlowFeature } from './device_flow.js';
import { allowEitherLoopbackForNativeApps } from './native_loopback_redirects.js';
import { CLIENT_AUTH_SIGNING_ALGS } from '../config/client_jwks.js';
import { FRONTCHANNEL_LOGOUT_DISCOVERY } from '../logout/frontchannel_logout.js';
import { LOCALES } from '../i18n/locales.js';

export interface ProviderDeps {
  env: Env;
  db: Db;
  keys: LoadedKeys;
  users: UsersRepo;
  consents: ConsentsRepo;
  resources: ResourceServers;
  /** the built-in scopes and the config's identity resources, and the claims each releases */
  scopeClaims: ScopeClaims;
  render: RenderPage;
  /** back-channel logout URIs and jwks_uris an admin registered; fetched even on private addresses */
  trustedUris: () => ReadonlySet<string>;
  /** the process's read caches (none when absent) */
  caches?: Caches;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

// Our own client metadata; oidc-provider drops anything it does not know unless declared.
const EXTRA_CLIENT_METADATA = ['skip_consent', 'frontchannel_logout_uri', 'frontchannel_logout_session_required', 'require_pkce', 'upstreams', 'require_mfa'];

function validateExtraMetadata(_ctx: KoaContextWithOIDC | undefined, key: string, value: unknown, metadata?: Record<string, unknown>): void {
  if (value === undefined) return;
  if (key === 'upstreams') {
    if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) throw new TypeError('upstreams must be an array of upstream ids');
  } else if (key === 'frontchannel_logout_uri') {
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) throw new TypeError('frontchannel_logout_uri must be an http(s) URL');
  } else if (typeof value !== 'boolean') {
    throw new TypeError(`${key} must be a boolean`);
  } else if (key === 'require_pkce' && !value && metadata?.token_endpoint_auth_method === 'none') {
    throw new TypeError('require_pkce cannot be false for a public client (token_endpoint_auth_method "none")');
  } else if (key === 'require_pkce' && !value && metadata?.application_type === 'native') {
    throw new TypeError('require_pkce cannot be false for a native app (RFC 8252 8.1)');
  }
}

function pkceRequired(client: Client): boolean {
  if (client.clientAuthMethod === 'none' || client.applicationType === 'native') return true;
  return (client as unknown as { require_pkce?: boolean }).require_pkce !== false;
}

// URL.parse is Node 22+; the server must still start on Node 20.19.
function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}

/** CORS for browser clients: only origins of the client's own redirect URIs. */
function clientBasedCORS(ctx: KoaContextWithOIDC, origin: string, client: Client): boolean {
  if (origin === 'null') return false;
  if (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') {
    return (client.redirectUris ?? []).some((uri) => originOf(uri) === origin);
  }
  return false;
}

/**
 * A provider configured for Gatehouse, without the extensions the host installs on the one it
 * serves (install_extensions.ts): enough on its own to validate client metadata.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { env, resources, scopeClaims } = deps;
  const pages = createProviderPages(deps.render, { developerDetails: env.developerErrors, users: deps.users });

  const configuration: Configuration = {
    adapter: createPostgresAdapter(deps.db, deps.caches),
    // ID tokens say which upstream identity provider the session signed in through (`idp`).
    findAccount: withUpstreamSessions(createFindAccount(deps.users, scopeClaims)),
    // `upstream=<id>`: go straight to that upstream identity provider (src/federation/).
    extraParams: ['upstream'],
    // An API's `user_claims` in its access tokens (JWT body, or introspection of opaque ones).
    extraTokenClaims: createApiTokenClaims({ users: deps.users, resources }),
    jwks: deps.keys.jwks,
    cookies: {
      keys: deps.keys.cookieKeys,
      long: sessionCookieOptions(env.secureCookies),
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // Discovery's scopes_supported and claims_supported come from these two.
    // `acr` and `amr` (RFC 8176) ride with `openid` like `sub`: every ID token says how the user
    // signed in (the library would release them only when the request asks for them).
    claims: Object.fromEntries(
      Object.entries(scopeClaims.providerClaims).map(([scope, claims]) => [scope, scope === 'openid' ? [...claims, 'acr', 'amr', 'idp'] : [...claims]]),
    ),
    scopes: [...scopeClaims.scopes, ...resources.scopes],
    extraClientMetadata: { properties: EXTRA_CLIENT_METADATA, validator: validateExtraMetadata },
    clientBasedCORS,
    // ID tokens always say when the user signed in.
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
      // Logout tokens carry the `sid` every ID token carries (id_token_session_claims.ts), so
      // an RP can end just that session; a client may still register `false`.
      backchannel_logout_session_required: true,
    },
    // acr_values_supported; `mfa` demands a second factor (mfa_policy.ts), also in an existing session.
    acrValues: ACR_VALUES,
    interactions: { policy: createInteractionPolicy(), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant: createLoadExistingGrant(deps.consents, resources, scopeClaims),
    // OIDC Core 11: offline_access only with prompt=consent (the library enforces that);
    // a refresh token then needs the refresh_token grant and offline_access in the grant.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // Every refresh rotates; presenting a rotated token again revokes the whole grant.
    rotateRefreshToken: () => true,
    // RFC 9700 2.1.1: PKCE for every authorization code, confidential clients included (it stops
    // code injection, which a client secret does not). A legacy confidential client that cannot
    // send it is let off by `require_pkce: false`; a public client never is.
    pkce: { required: (_ctx, client) => pkceRequired(client) },
    // The algorithms a client assertion may use: the ones the config file accepts keys for.
    enabledJWA: { clientAuthSigningAlgValues: [...CLIENT_AUTH_SIGNING_ALGS] },
    // ui_locales_supported: the languages the hosted pages speak (ui_locales picks one: i18n/locales.ts).
    discovery: { claim_types_supported: ['normal'], ui_locales_supported: [...LOCALES], ...FRONTCHANNEL_LOGOUT_DISCOVERY },
    responseTypes: ['code'],
    // OIDC Core 3.1.2.1: the authorization endpoint MUST accept POST. The library allows it
    // only with SameSite=None session cookies, i.e. over https.
    enableHttpPostMethods: env.secureCookies,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true, assertClaimsParameter: (ctx, claims) => limitClaimsParameter(ctx, claims, scopeClaims) },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true as never,
        // A confidential client may introspect tokens issued to itself, and an API's tokens
        // may be introspected by any confidential client registered for that API's scopes.
        allowedPolicy: async (_ctx, client, token) => {
          if (client.clientAuthMethod === 'none') return false;
          if (token.clientId === client.clientId) return true;
          const audience = (token as { aud?: string | string[] }).aud;
          const api = typeof audience === 'string' ? resources.byIdentifier(audience) : undefined;
          if (!api) return false;
          const allowed = new Set((client.scope ?? '').split(' '));
          return api.scopes.some((s) => allowed.has(s));
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 2.1: any client, public ones included (identified by client_id alone), may
        // revoke the tokens issued to it: holding the token is the proof, and a browser app that
        // signs out must be able to end its tokens. Another client's token is left alone with the
        // same 200 answer (2.2), so the endpoint tells nobody whose a token is.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource,
        postLogoutSuccessSource: pages.postLogoutSuccessSource,
      },
      backchannelLogout: { enabled: true },
      // RFC 8628 (README "Devices"): /device/auth, /device and the device_code grant.
      deviceFlow: deviceFlowFeature({ render: deps.render, scopeClaims, resources, sessionCookie: sessionCookieOptions(env.secureCookies) }),
      resourceIndicators: {
        enabled: true,
        defaultResource: resources.defaultResource,
        getResourceServerInfo: resources.getResourceServerInfo,
        useGrantedResource: resources.useGrantedResource,
      },
    },
    fetch: createTrustedFetch(deps.trustedUris),
    renderError: pages.renderError,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? HOUR,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 10 * 60,
      IdToken: HOUR,
      Interaction: HOUR,
      Session: (_ctx, session) => sessionTtlSeconds(session.loginTs, env.session),
      Grant: 30 * DAY,
      RefreshToken: 14 * DAY,
      DeviceCode: env.deviceFlow.codeTtlSeconds,
      BackchannelAuthenticationRequest: 10 * 60,
      PreAuthorizedCode: 10 * 60,
    },
  };

  const provider = new Provider(env.issuer, configuration);
  // Koa would believe the left-most X-Forwarded-For and any X-Forwarded-Host; the app rewrites
  // these headers first (http/issuer_request.ts) to the client address Express resolved under
  // TRUST_PROXY and the issuer's host and scheme, so trusting them here is trusting ourselves.
  provider.proxy = true;
  recordUpstreamInSessions(provider);
  allowEitherLoopbackForNativeApps(provider);
  return provider;
}
