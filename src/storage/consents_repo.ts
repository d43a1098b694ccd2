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

// Space-separated scopes `a` then `b`, each once, in the order first seen.
const scopeUnion = (a: string, b: string) => `(SELECT coalesce(string_agg(s, ' ' ORDER BY first), '') FROM (
    SELECT s, min(n) AS first FROM unnest(string_to_array(${a} || ' ' || ${b}, ' ')) WITH ORDINALITY AS t(s, n) WHERE s <> '' GROUP BY s) u)`;

const REMEMBER_SQL = `INSERT INTO consents AS c (sub, client_id, scope, claims, resource_scopes) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
  ON CONFLICT (sub, client_id) DO UPDATE SET
    scope = ${scopeUnion('c.scope', 'excluded.scope')},
    claims = (SELECT coalesce(jsonb_agg(claim ORDER BY first), '[]'::jsonb) FROM (
      SELECT claim, min(n) AS first FROM jsonb_array_elements_text(c.claims || excluded.claims) WITH ORDINALITY AS t(claim, n) GROUP BY claim) u),
    resource_scopes = (SELECT coalesce(jsonb_object_agg(indicator, ${scopeUnion("coalesce(c.resource_scopes ->> indicator, '')", "coalesce(excluded.resource_scopes ->> indicator, '')")}), '{}'::jsonb)
      FROM (SELECT jsonb_object_keys(c.resource_scopes) UNION SELECT jsonb_object_keys(excluded.resource_scopes)) AS k(indicator)),
    updated_at = now()`;

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

    /**
     * Adds to what the user already consented to for this client: one statement, the union made
     * on the row it locks (what was there first, in its order, then what is new), so two
     * consents given at once both stay.
     */
    async remember(sub: string, clientId: string, added: Consent): Promise<void> {
      const resourceScopes = Object.fromEntries(Object.entries(added.resourceScopes).map(([indicator, scopes]) => [indicator, union([], scopes).join(' ')]));
      await db.query({
        name: 'consents_remember',
        text: REMEMBER_SQL,
        values: [sub, clientId, union([], added.scope).join(' '), JSON.stringify(union([], added.claims)), resourceScopes],
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
