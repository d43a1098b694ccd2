import type { Db } from '../db/db.js';

// The `consents` table's statements, all of them: what a user has agreed to share with a
// client, kept beyond any one session (the consent prompt, the account page, revocations).

export interface Consent {
  scope: string[];
  claims: string[];
  resourceScopes: Record<string, string[]>;
}

/** One client's remembered consent, as listed on the account page. */
export interface ConsentSummary {
  clientId: string;
  /** OpenID scopes, space-separated */
  scope: string;
  /** API identifier → its scopes, space-separated */
  resourceScopes: Record<string, string>;
  updatedAt: Date;
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];

export function createConsentsRepo(db: Db) {
  return {
    async find(sub: string, clientId: string): Promise<Consent | undefined> {
      const { rows } = await db.query<{ scope: string; claims: string[]; resource_scopes: Record<string, string> }>({
        name: 'consents_find',
        text: 'SELECT scope, claims, resource_scopes FROM consents WHERE sub = $1 AND client_id = $2',
        values: [sub, clientId],
      });
      const row = rows[0];
      if (!row) return undefined;
      return {
        scope: row.scope.split(' ').filter(Boolean),
        claims: row.claims,
        resourceScopes: Object.fromEntries(Object.entries(row.resource_scopes).map(([k, v]) => [k, v.split(' ').filter(Boolean)])),
      };
    },

    /** Adds to what the user already consented to for this client. */
    async remember(sub: string, clientId: string, added: Consent): Promise<void> {
      await db.transaction(async (client) => {
        const { rows } = await client.query<{ scope: string; claims: string[]; resource_scopes: Record<string, string> }>(
          'SELECT scope, claims, resource_scopes FROM consents WHERE sub = $1 AND client_id = $2 FOR UPDATE',
          [sub, clientId],
        );
        const current = rows[0];
        const scope = union(current?.scope.split(' ').filter(Boolean) ?? [], added.scope);
        const claims = union(current?.claims ?? [], added.claims);
        const resourceScopes: Record<string, string> = { ...(current?.resource_scopes ?? {}) };
        for (const [indicator, scopes] of Object.entries(added.resourceScopes)) {
          resourceScopes[indicator] = union(resourceScopes[indicator]?.split(' ').filter(Boolean) ?? [], scopes).join(' ');
        }
        await client.query(
          `INSERT INTO consents (sub, client_id, scope, claims, resource_scopes) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (sub, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims,
             resource_scopes = excluded.resource_scopes, updated_at = now()`,
          [sub, clientId, scope.join(' '), JSON.stringify(claims), resourceScopes],
        );
      });
    },

    async forget(sub: string, clientId: string): Promise<void> {
      await db.query('DELETE FROM consents WHERE sub = $1 AND client_id = $2', [sub, clientId]);
    },

    /** Everything the account consented to (or only for `clientId`): its grants are going. */
    async forgetAccount(sub: string, clientId?: string): Promise<void> {
      await db.query({
        name: 'account_forget_consents',
        text: `DELETE FROM consents WHERE sub = $1::uuid AND ($2::text IS NULL OR client_id = $2)`,
        values: [sub, clientId ?? null],
      });
    },

    /** Every client the account consented to; `sub` must be a uuid (isUuid). */
    async listForAccount(sub: string): Promise<ConsentSummary[]> {
      const { rows } = await db.query<{ client_id: string; scope: string; resource_scopes: Record<string, string>; updated_at: Date }>({
        name: 'account_consents',
        text: `SELECT client_id, scope, resource_scopes, updated_at FROM consents WHERE sub = $1::uuid`,
        values: [sub],
      });
      return rows.map((row) => ({ clientId: row.client_id, scope: row.scope, resourceScopes: row.resource_scopes, updatedAt: row.updated_at }));
    },
  };
}

export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
