import { isDeepStrictEqual } from 'node:util';
import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/db.js';

// The `clients` table's statements, all of them: the rows the storage adapter reads and writes
// (postgres_adapter.ts), the ones the config file owns (source = 'config', client_sync.ts) and
// the question the account's sign-outs ask of them (account_sessions.ts).
//
// Config syncs run one at a time across every instance on the database (a transaction-scoped
// advisory lock). Without it, a sync waiting on another's row locks resumes with the rows it read
// before the other committed: it never sees the clients the other added, so it cannot remove
// them, and a client the newer file dropped stays registered.

/** pg_advisory_xact_lock key of client syncs: any constant no other lock of ours uses. */
const CLIENT_SYNC_LOCK = 0x636c6e74; // "clnt"

export interface SyncResult {
  added: string[];
  changed: string[];
  removed: string[];
}

export interface ClientsStore {
  find(clientId: string): Promise<AdapterPayload | undefined>;
  /** A client registered through the adapter (source 'adapter'). */
  upsert(clientId: string, metadata: AdapterPayload): Promise<void>;
  destroy(clientId: string): Promise<void>;
  /** Those of `clientIds` that take back-channel logouts. */
  withBackchannelLogout(clientIds: readonly string[]): Promise<string[]>;
  /** Makes the config file's rows exactly `clients`, in one transaction. */
  replaceConfigClients(clients: readonly { clientId: string; metadata: Record<string, unknown> }[]): Promise<SyncResult>;
}

export function createClientsStore(db: Db): ClientsStore {
  return {
    async find(clientId) {
      const { rows } = await db.query<{ metadata: AdapterPayload }>({
        name: 'oidc_clientFind',
        text: `SELECT metadata FROM clients WHERE client_id = $1`,
        values: [clientId],
      });
      return rows[0]?.metadata;
    },

    async upsert(clientId, metadata) {
      await db.query({
        name: 'oidc_clientUpsert',
        text: `INSERT INTO clients (client_id, metadata, source) VALUES ($1, $2, 'adapter')
               ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()`,
        values: [clientId, metadata],
      });
    },

    async destroy(clientId) {
      await db.query({ name: 'oidc_clientDestroy', text: `DELETE FROM clients WHERE client_id = $1`, values: [clientId] });
    },

    async withBackchannelLogout(clientIds) {
      const { rows } = await db.query<{ client_id: string }>({
        name: 'account_backchannel_clients',
        text: `SELECT client_id FROM clients WHERE client_id = ANY($1) AND metadata ->> 'backchannel_logout_uri' IS NOT NULL`,
        values: [clientIds],
      });
      return rows.map((r) => r.client_id);
    },

    async replaceConfigClients(clients) {
      return db.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock($1)`, [CLIENT_SYNC_LOCK]);
        const { rows } = await tx.query<{ client_id: string; metadata: unknown }>(`SELECT client_id, metadata FROM clients WHERE source = 'config' FOR UPDATE`);
        const existing = new Map(rows.map((r) => [r.client_id, r.metadata]));
        const result: SyncResult = { added: [], changed: [], removed: [] };
        for (const { clientId, metadata } of clients) {
          const before = existing.get(clientId);
          existing.delete(clientId);
          if (before !== undefined && isDeepStrictEqual(before, metadata)) continue;
          await tx.query(
            `INSERT INTO clients (client_id, metadata, source) VALUES ($1, $2, 'config')
             ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, source = 'config', updated_at = now()`,
            [clientId, metadata],
          );
          (before === undefined ? result.added : result.changed).push(clientId);
        }
        for (const clientId of existing.keys()) {
          await tx.query(`DELETE FROM clients WHERE client_id = $1 AND source = 'config'`, [clientId]);
          result.removed.push(clientId);
        }
        return result;
      });
    },
  };
}
