import type { ClientConfig } from '../config/gatehouse_config.js';
import type { Db } from '../db/db.js';
import { createClientsStore, type SyncResult } from './clients_store.js';

// Makes the clients table match the config file: adds, changes and removes the rows the file
// owns (source = 'config'), in one transaction, one sync at a time (clients_store.ts).

/** What oidc-provider stores for a config client: the file's entry minus defaults it adds itself. */
export function clientMetadata(client: ClientConfig): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    ...client,
    // A machine-to-machine client has no front channel: no response types, no redirect URIs.
    response_types: client.response_types ?? (client.grant_types.includes('authorization_code') ? ['code'] : []),
  };
  for (const [key, value] of Object.entries(metadata)) if (value === undefined) Reflect.deleteProperty(metadata, key);
  return metadata;
}

export async function syncClients(db: Db, clients: readonly ClientConfig[]): Promise<SyncResult> {
  return createClientsStore(db).replaceConfigClients(clients.map((client) => ({ clientId: client.client_id, metadata: clientMetadata(client) })));
}
