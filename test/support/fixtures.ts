import type { GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';

// The clients and APIs most tests use. Redirect URIs point at a port nothing listens on: the
// tests read the code off the redirect instead of following it.

export const RP = 'http://127.0.0.1:9';

/**
 * A fixed PKCE S256 challenge (RFC 7636 appendix B) for authorization requests whose code is
 * never redeemed: every client must send one (RFC 9700).
 */
export const FIXED_PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' } as const;

/** `web`'s authorization request for `openid profile`, as an RP at RP/callback sends it. */
export function webAuthorizationUrl(issuer: string): string {
  const params = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    redirect_uri: `${RP}/callback`,
    scope: 'openid profile',
    state: 'state-1',
    nonce: 'nonce-1',
    ...FIXED_PKCE,
  });
  return `${issuer}/auth?${params.toString()}`;
}

export const SECRETS = {
  web: 'web-secret-0123456789abcdef0123456789',
  service: 'service-secret-0123456789abcdef012345',
  firstParty: 'first-party-secret-0123456789abcdef01',
  introspector: 'introspector-secret-0123456789abcdef0',
} as const;

export const API = 'https://api.example.test';
export const OPAQUE_API = 'https://opaque.example.test';

export function testConfig(overrides: Partial<GatehouseConfig> = {}): GatehouseConfig {
  return gatehouseConfigSchema.parse({
    clients: [
      {
        client_id: 'web',
        client_secret: SECRETS.web,
        client_name: 'Web App',
        redirect_uris: [`${RP}/callback`],
        post_logout_redirect_uris: [`${RP}/signed-out`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access things:read things:write notes:read',
      },
      {
        client_id: 'spa',
        client_name: 'Single Page App',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${RP}/spa/callback`],
        post_logout_redirect_uris: [`${RP}/spa/`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access things:read',
      },
      {
        client_id: 'first-party',
        client_secret: SECRETS.firstParty,
        client_name: 'First Party',
        redirect_uris: [`${RP}/fp/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access things:read',
        skip_consent: true,
      },
      {
        client_id: 'service',
        client_secret: SECRETS.service,
        client_name: 'Service',
        grant_types: ['client_credentials'],
        scope: 'things:read things:write notes:read',
      },
      {
        client_id: 'introspector',
        client_secret: SECRETS.introspector,
        client_name: 'Notes API (introspects)',
        grant_types: ['client_credentials'],
        scope: 'notes:read',
      },
    ],
    apis: [
      { identifier: API, name: 'Things API', scopes: ['things:read', 'things:write'], access_token_format: 'jwt', access_token_ttl: 600 },
      { identifier: OPAQUE_API, name: 'Notes API', scopes: ['notes:read'], access_token_format: 'opaque', access_token_ttl: 300 },
    ],
    ...overrides,
  });
}

export const ALICE = {
  username: 'alice',
  email: 'alice@example.test',
  name: 'Alice Liddell',
  given_name: 'Alice',
  family_name: 'Liddell',
  password: 'correct horse battery staple',
};
export const BOB = { username: 'bob', email: 'bob@example.test', name: 'Bob', password: 'another long passphrase' };
