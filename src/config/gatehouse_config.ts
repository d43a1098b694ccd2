import { z } from 'zod';
import { ACCOUNT_CLIENT_ID } from './account_client.js';
import { BUILT_IN_SCOPES, apiUserClaimNameSchema, claimNameProblem } from './claim_names.js';
import { CLIENT_AUTH_SIGNING_ALGS, clientJwksSchema } from './client_jwks.js';
import { checkClientKind } from './client_kind_rules.js';
import { LIGHT_BACKGROUND, MIN_TEXT_CONTRAST, contrastRatio, darkerPassingShade, formatRatio, hexColor } from './brand_colors.js';

// The config file (INTERFACE.md "Config file"). Client entries use RFC 7591 / OIDC Registration
// metadata names so they pass straight to oidc-provider; unknown keys are refused here rather
// than silently dropped by the library later.

const STANDARD_SCOPES = BUILT_IN_SCOPES;

/**
 * Why a URI in the config file cannot work, in the words a developer needs. The WHATWG parser
 * forgives too much: it trims spaces (so " https://app/cb" parses, is stored with its space and
 * never matches what a client sends) and reads `http:/host` as `http://host/`.
 */
function uriProblem(value: string, { redirect = false } = {}): string | undefined {
  if (value !== value.trim()) return 'has a space or line break at the start or end (the URI would never match)';
  if (/\s/.test(value)) return 'must not contain whitespace';
  // Redirect URIs are compared as exact strings (RFC 6749 §3.1.2, OAuth 2.1): a `*` is a
  // literal character that no client sends, never a pattern as some other servers read it.
  if (redirect && value.includes('*')) return 'must not contain a wildcard (*): list every URI exactly, they are compared as exact strings';
  if (value.includes('#')) return 'must not contain a fragment (#…)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !/^https?:\/\/[^/?#\\]/i.test(value)) {
    return `is malformed: write ${url.protocol}//host/path (two slashes before the host)`;
  }
  return undefined;
}

const uri = (options: { redirect?: boolean }) =>
  z.string().superRefine((value, ctx) => {
    const problem = uriProblem(value, options);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const absoluteUrl = uri({});
const redirectUri = uri({ redirect: true });

const httpUrl = absoluteUrl.refine((value) => /^https?:/.test(value), 'must be an http(s) URL');

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token without spaces or quotes');

const signingAlg = z.enum(['RS256', 'ES256']);

/** RFC 8628: TVs and CLIs sign in on another device; a public client (no secret) may use it. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const clientSchema = z
  .object({
    client_id: z.string().min(1, 'must not be empty').max(200),
    client_secret: z.string().min(1, 'must not be empty').optional(),
    client_name: z.string().min(1).max(200).optional(),
    application_type: z.enum(['web', 'native']).optional(),
    redirect_uris: z.array(redirectUri).default([]),
    post_logout_redirect_uris: z.array(redirectUri).default([]),
    grant_types: z
      .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT]))
      .min(1)
      .default(['authorization_code']),
    response_types: z.array(z.enum(['code'])).optional(),
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'])
      .default('client_secret_basic'),
    /** the only algorithm accepted for this client's assertions (private_key_jwt, client_secret_jwt) */
    token_endpoint_auth_signing_alg: z.enum(CLIENT_AUTH_SIGNING_ALGS).optional(),
    /** private_key_jwt: the client's public keys inline (client_jwks.ts) … */
    jwks: clientJwksSchema.optional(),
    /** … or where the client publishes them (fetched and cached, trusted_fetch.ts) */
    jwks_uri: httpUrl.optional(),
    /** RFC 9449: access and public clients' refresh tokens are bound to a DPoP key */
    dpop_bound_access_tokens: z.boolean().optional(),
    /** RFC 9126: authorization requests only through the pushed authorization request endpoint */
    require_pushed_authorization_requests: z.boolean().optional(),
    scope: z
      .string()
      .refine(
        (s) =>
          s
            .trim()
            .split(/\s+/)
            .every((t) => scopeToken.safeParse(t).success),
        'must be space-separated scope tokens',
      )
      .optional(),
    id_token_signed_response_alg: signingAlg.optional(),
    backchannel_logout_uri: httpUrl.optional(),
    backchannel_logout_session_required: z.boolean().optional(),
    frontchannel_logout_uri: httpUrl.optional(),
    frontchannel_logout_session_required: z.boolean().optional(),
    client_uri: httpUrl.optional(),
    logo_uri: httpUrl.optional(),
    policy_uri: httpUrl.optional(),
    tos_uri: httpUrl.optional(),
    default_max_age: z.number().int().nonnegative().optional(),
    require_auth_time: z.boolean().optional(),
    skip_consent: z.boolean().default(false),
    require_pkce: z.boolean().optional(),
    /** the upstream identity providers (ids of `upstreams`) this client's users may sign in with; absent: all */
    upstreams: z.array(z.string()).optional(),
    /** every sign-in to this client uses a second factor (acr `mfa`) */
    require_mfa: z.boolean().optional(),
  })
  .strict();

// Upstream identity providers (README "Upstream identity providers"). The redirect URI to
// register at the upstream is `${ISSUER}/upstream/<id>/callback`.
const upstreamId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, _ or -, starting with a letter or digit');

const upstreamCommon = {
  id: upstreamId,
  name: z.string().min(1, 'must not be empty').max(100),
  client_id: z.string().min(1, 'must not be empty').max(500),
  client_secret: z.string().min(1, 'must not be empty').optional(),
  /**
   * How a first sign-in may join an existing local account with the same email: `password`
   * (default) only after the user signs in with that account's password; `email` also at once
   * when the upstream says the email is verified (an upstream trusted to own its emails).
   */
  link: z.enum(['password', 'email']).default('password'),
  /** seconds to wait for the upstream's discovery, token and userinfo answers */
  timeout_seconds: z.number().int().min(1).max(60).default(10),
};

const claimSource = z.string().min(1).max(100);

const oidcUpstreamSchema = z
  .object({
    type: z.literal('oidc').default('oidc'),
    ...upstreamCommon,
    issuer: httpUrl,
    scope: z.string().min(1).default('openid profile email'),
    /** also sign out at the upstream (its end_session_endpoint) when signing out of Gatehouse */
    end_session: z.boolean().default(false),
  })
  .strict();

const oauth2UpstreamSchema = z
  .object({
    type: z.literal('oauth2'),
    ...upstreamCommon,
    authorization_endpoint: httpUrl,
    token_endpoint: httpUrl,
    userinfo_endpoint: httpUrl,
    scope: z.string().default(''),
    /** Gatehouse claim ← field of the userinfo answer (`sub` required), e.g. GitHub's { "sub": "id", "preferred_username": "login" } */
    claims: z
      .object({
        sub: claimSource,
        preferred_username: claimSource.optional(),
        email: claimSource.optional(),
        email_verified: claimSource.optional(),
        name: claimSource.optional(),
        given_name: claimSource.optional(),
        family_name: claimSource.optional(),
      })
      .strict(),
  })
  .strict();

const upstreamSchema = z.discriminatedUnion('type', [oidcUpstreamSchema, oauth2UpstreamSchema]);

export const apiSchema = z
  .object({
    identifier: absoluteUrl,
    name: z.string().min(1).max(200),
    scopes: z.array(scopeToken).min(1, 'must list at least one scope'),
    access_token_format: z.enum(['jwt', 'opaque']).default('jwt'),
    access_token_ttl: z.number().int().min(30).max(86400).default(3600),
    signing_alg: signingAlg.default('RS256'),
    /** the user's claims copied into this API's access tokens (none in a client_credentials token) */
    user_claims: z
      .array(apiUserClaimNameSchema)
      .default([])
      .refine((names) => new Set(names).size === names.length, 'must not list a claim twice'),
  })
  .strict();

// A named group of user claims behind a scope (IdentityServer's identity resource): granting
// the scope releases those claims of the user (find_account.ts, scope_claims.ts).
export const identityResourceSchema = z
  .object({
    name: scopeToken,
    display_name: z.string().min(1, 'must not be empty').max(200),
    claims: z.array(z.string()).min(1, 'must list at least one claim'),
  })
  .strict();

/**
 * The conflict rule: a claim has one meaning and one scope. Standard claims stay with their
 * built-in scopes (their values come from the profile columns), protocol claims are never a
 * user's, and a custom claim is released by exactly one identity resource, so the consent page
 * names one scope for it and granting or refusing that scope decides it alone.
 */
function checkIdentityResources(
  resources: readonly Entry<IdentityResourceConfig>[],
  apiScopes: ReadonlyMap<string, number>,
  ctx: { addIssue(issue: ConfigIssue): void },
): void {
  const names = new Set<string>();
  const claimOwner = new Map<string, string>();
  resources.forEach(({ at: i, value: resource }) => {
    const at = (...path: (string | number)[]) => ['identity_resources', i, ...path];
    if (STANDARD_SCOPES.includes(resource.name)) {
      ctx.addIssue({ path: at('name'), message: `"${resource.name}" is a built-in scope` });
    } else if (apiScopes.get(resource.name) !== undefined) {
      ctx.addIssue({ path: at('name'), message: `"${resource.name}" is already a scope of apis[${String(apiScopes.get(resource.name))}]` });
    } else if (names.has(resource.name)) {
      ctx.addIssue({ path: at('name'), message: `duplicate identity resource "${resource.name}"` });
    }
    names.add(resource.name);
    resource.claims.forEach((claim, j) => {
      const problem = claimNameProblem(claim);
      const owner = claimOwner.get(claim);
      if (problem) {
        ctx.addIssue({ path: at('claims', j), message: problem });
      } else if (owner === resource.name) {
        ctx.addIssue({ path: at('claims', j), message: `"${claim}" is listed twice` });
      } else if (owner !== undefined) {
        ctx.addIssue({ path: at('claims', j), message: `claim "${claim}" is already released by identity resource "${owner}"` });
      } else {
        claimOwner.set(claim, resource.name);
      }
    });
  });
}

// Self-service over e-mail (README "Self-service"): registration, e-mail verification, forgotten
// passwords. Mail goes out through SMTP_URL (or the log without it).
const emailDomain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as example.com');
export const selfServiceSchema = z
  .object({
    /** off: admins create users; open: anyone may register; invite: only `users invite` */
    registration: z.enum(['off', 'open', 'invite']).default('off'),
    /** the login page's "Forgot password?" link and its form */
    password_reset: z.boolean().default(true),
    /** a new or changed address must be confirmed by a link before it counts (email_verified) */
    email_verification: z.boolean().default(true),
    /** registration only: addresses at these domains (empty: any) */
    allowed_email_domains: z.array(emailDomain).default([]),
  })
  .strict();
export type SelfServiceConfig = z.infer<typeof selfServiceSchema>;

// The operator's name, logo and colour on every hosted page (README "Branding"). The primary
// colour is the buttons' background under white text and the links' colour on the light
// background, so it must reach 4.5:1 against white; dark mode derives a lighter variant itself
// (brand_colors.ts darkModeVariant), which `config check` reports.
const brandingSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(60),
    logo_uri: httpUrl.optional(),
    primary_color: z
      .string()
      .regex(hexColor, 'must be a colour as #rrggbb')
      .superRefine((color, ctx) => {
        const ratio = contrastRatio(color, LIGHT_BACKGROUND);
        if (ratio < MIN_TEXT_CONTRAST) {
          ctx.addIssue({
            code: 'custom',
            message: `contrast ${formatRatio(ratio)} against white (button text, links on the light background) is below ${MIN_TEXT_CONTRAST}:1 (WCAG AA); a darker shade such as ${darkerPassingShade(color)} passes`,
          });
        }
      })
      .optional(),
  })
  .strict();
export type BrandingConfig = z.infer<typeof brandingSchema>;

export const upstreamEntry = z.preprocess(
  // `type` may be left out for OpenID Connect upstreams.
  (u: unknown) => (u && typeof u === 'object' && !Array.isArray(u) && !('type' in u) ? { ...u, type: 'oidc' } : u),
  upstreamSchema,
);

/** Every field of the file, each checked on its own; crossFieldIssues() checks them together. */
export const configFieldsSchema = z
  .object({
    branding: brandingSchema.optional(),
    self_service: selfServiceSchema.default(() => selfServiceSchema.parse({})),
    clients: z.array(clientSchema).default([]),
    apis: z.array(apiSchema).default([]),
    identity_resources: z.array(identityResourceSchema).default([]),
    upstreams: z.array(upstreamEntry).default([]),
  })
  .strict();

/** An entry of one of the file's lists, with its position in the file. */
export interface Entry<T> {
  at: number;
  value: T;
}

/**
 * The lists' entries to check against each other. From a valid file, all of them; from a file
 * with problems, those entries that are valid on their own (salvage_config.ts), so a problem
 * between entries is reported in the same run as a problem inside one.
 */
export interface ConfigEntries {
  clients: Entry<ClientConfig>[];
  apis: Entry<ApiConfig>[];
  identity_resources: Entry<IdentityResourceConfig>[];
  upstreams: Entry<UpstreamConfig>[];
}

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

export const entriesOf = <T>(list: readonly T[]): Entry<T>[] => list.map((value, at) => ({ at, value }));

export function crossFieldIssues(config: ConfigEntries): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ctx = { addIssue: (issue: ConfigIssue) => void issues.push(issue) };
  const upstreamIds = new Set<string>();
  config.upstreams.forEach(({ at: i, value: upstream }) => {
    if (upstreamIds.has(upstream.id)) ctx.addIssue({ path: ['upstreams', i, 'id'], message: `duplicate upstream id "${upstream.id}"` });
    upstreamIds.add(upstream.id);
    if (upstream.type === 'oidc' && !upstream.scope.split(/\s+/).includes('openid')) {
      ctx.addIssue({ path: ['upstreams', i, 'scope'], message: 'must include "openid" for an OpenID Connect upstream' });
    }
  });
  config.clients.forEach(({ at: i, value: client }) => {
    (client.upstreams ?? []).forEach((id, j) => {
      if (!upstreamIds.has(id)) ctx.addIssue({ path: ['clients', i, 'upstreams', j], message: `unknown upstream "${id}"` });
    });
  });

  const apiScopes = new Map<string, number>();
  const identifiers = new Set<string>();
  config.apis.forEach(({ at: i, value: api }) => {
    if (identifiers.has(api.identifier)) {
      ctx.addIssue({ path: ['apis', i, 'identifier'], message: `duplicate API identifier "${api.identifier}"` });
    }
    identifiers.add(api.identifier);
    api.scopes.forEach((scope, j) => {
      const owner = apiScopes.get(scope);
      if (STANDARD_SCOPES.includes(scope)) {
        ctx.addIssue({ path: ['apis', i, 'scopes', j], message: `"${scope}" is a standard OpenID scope, not an API scope` });
      } else if (owner !== undefined) {
        ctx.addIssue({ path: ['apis', i, 'scopes', j], message: `scope "${scope}" already belongs to apis[${owner}]` });
      } else {
        apiScopes.set(scope, i);
      }
    });
  });

  checkIdentityResources(config.identity_resources, apiScopes, ctx);
  const identityScopes = new Set(config.identity_resources.map((r) => r.value.name));

  const clientIds = new Set<string>();
  config.clients.forEach(({ at: i, value: client }) => {
    const at = (...path: (string | number)[]) => ['clients', i, ...path];
    if (clientIds.has(client.client_id)) {
      ctx.addIssue({ path: at('client_id'), message: `duplicate client_id "${client.client_id}"` });
    }
    clientIds.add(client.client_id);
    if (client.client_id === ACCOUNT_CLIENT_ID) {
      ctx.addIssue({ path: at('client_id'), message: `"${ACCOUNT_CLIENT_ID}" is reserved for the built-in account page` });
    }

    const isPublic = client.token_endpoint_auth_method === 'none';
    checkClientKind(client, at, ctx);
    if (isPublic && client.require_pkce === false) {
      ctx.addIssue({
        path: at('require_pkce'),
        message: 'a public client (token_endpoint_auth_method "none") must use PKCE; only a confidential client may set false',
      });
    }
    if (isPublic && client.grant_types.includes('client_credentials')) {
      ctx.addIssue({ path: at('grant_types'), message: 'client_credentials needs a confidential client' });
    }
    if (client.grant_types.includes('authorization_code') && client.redirect_uris.length === 0) {
      ctx.addIssue({ path: at('redirect_uris'), message: 'must list at least one URI for the authorization_code grant' });
    }
    if (client.grant_types.includes('refresh_token') && !client.grant_types.some((g) => g === 'authorization_code' || g === DEVICE_CODE_GRANT)) {
      ctx.addIssue({ path: at('grant_types'), message: 'refresh_token needs authorization_code or the device_code grant' });
    }
    for (const scope of client.scope?.trim().split(/\s+/) ?? []) {
      if (!STANDARD_SCOPES.includes(scope) && !apiScopes.has(scope) && !identityScopes.has(scope)) {
        ctx.addIssue({
          path: at('scope'),
          message: `unknown scope "${scope}" (not a standard scope, an identity resource, nor owned by any API)`,
        });
      }
    }
  });
  return issues;
}

export const gatehouseConfigSchema = configFieldsSchema.superRefine((config, ctx) => {
  const entries = {
    clients: entriesOf(config.clients),
    apis: entriesOf(config.apis),
    identity_resources: entriesOf(config.identity_resources),
    upstreams: entriesOf(config.upstreams),
  };
  for (const issue of crossFieldIssues(entries)) ctx.addIssue({ code: 'custom', ...issue });
});

export type ClientConfig = z.infer<typeof clientSchema>;
export type ApiConfig = z.infer<typeof apiSchema>;
export type IdentityResourceConfig = z.infer<typeof identityResourceSchema>;
export type GatehouseConfig = z.infer<typeof gatehouseConfigSchema>;
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
