import type { Client } from 'oidc-provider';

/** First-party clients (`skip_consent` in the config file) are never shown a consent page. */
export function skipsConsent(client: Client): boolean {
  return (client as unknown as { skip_consent?: boolean }).skip_consent === true;
}
