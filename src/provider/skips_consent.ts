import type { Client } from 'oidc-provider';

/**
 * First-party clients (`skip_consent` in the config file) are never shown a consent page. It
 * only spares the page: such a client gets no more than one that shows it would (its registered
 * scopes, and the claims those cover: load_existing_grant.ts, grant_consent.ts).
 */
export function skipsConsent(client: Client): boolean {
  return (client as unknown as { skip_consent?: boolean }).skip_consent === true;
}
