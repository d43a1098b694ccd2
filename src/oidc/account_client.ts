import type { ClientConfig } from '../config/gatehouse_config.js';

// The account page (/account) signs its user in the way every application does: through the
// authorization endpoint, as this built-in client (Keycloak's account-console pattern). So the
// one sign-in page, its throttle, its audit events and the session cookie are the only way in,
// and nothing about /account bypasses what an administrator sees of sign-ins. The client is not
// in the config file: it is synced with the file's clients, so a reload never removes it, and
// its id is reserved there.

export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

export function accountClient(issuer: string): ClientConfig {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Gatehouse account',
    redirect_uris: [`${issuer}${ACCOUNT_CALLBACK_PATH}`],
    post_logout_redirect_uris: [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // A public client: the code never leaves the server, and PKCE binds it to the browser that asked.
    token_endpoint_auth_method: 'none',
    scope: 'openid',
    skip_consent: true,
  };
}
