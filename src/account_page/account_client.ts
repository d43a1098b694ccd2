import type { ClientConfig } from '../config/gatehouse_config.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID } from '../config/account_client.js';

// The built-in client the account page signs in as (why: config/account_client.ts).

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
