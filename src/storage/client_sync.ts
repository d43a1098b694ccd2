import { isDeepStrictEqual } from 'node:util';
import type { ClientConfig } from '../config/gatehouse_config.js';
import type { Db } from '../db/db.js';

// Makes the clients table match the config file: adds, changes and removes the rows the file
// owns (source = 'config'), in one transaction.
//
// Syncs run one at a time across every instance on the database (a transaction-scoped advisory
// lock). Without it, a sync waiting on another's row locks resumes with the rows it read before
// the other committed: it never sees the clients the other added, so it cannot remove them, and
// a client the newer file dropped stays registered.

/** pg_advisory_xact_lock key of client syncs: any constant no other lock of ours uses. */
export const CLIENT_SYNC_LOCK = 0x636c6e74; // "clnt"

export interface SyncResult {
  added: string[];
  changed: string[];
  removed: string[];
}

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
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock($1)`, [CLIENT_SYNC_LOCK]);
    const { rows } = await tx.query<{ client_id: string; metadata: unknown }>(`SELECT client_id, metadata FROM clients WHERE source = 'config' FOR UPDATE`);
    const existing = new Map(rows.map((r) => [r.client_id, r.metadata]));
    const result: SyncResult = { added: [], changed: [], removed: [] };
    for (const client of clients) {
      const metadata = clientMetadata(client);
      const before = existing.get(client.client_id);
      existing.delete(client.client_id);
      if (before !== undefined && isDeepStrictEqual(before, metadata)) continue;
      await tx.query(
        `INSERT INTO clients (client_id, metadata, source) VALUES ($1, $2, 'config')
         ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, source = 'config', updated_at = now()`,
        [client.client_id, metadata],
      );
      (before === undefined ? result.added : result.changed).push(client.client_id);
    }
    for (const clientId of existing.keys()) {
      await tx.query(`DELETE FROM clients WHERE client_id = $1 AND source = 'config'`, [clientId]);
      result.removed.push(clientId);
    }
    return result;
  });
}
