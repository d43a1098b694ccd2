import type Provider from 'oidc-provider';
import type { Env } from '../config/env.js';
import type { ClientConfig, GatehouseConfig } from '../config/gatehouse_config.js';
import { ConfigError } from '../config/format_issues.js';
import type { Db } from '../db/db.js';
import { createLocalChanges } from '../db/local_changes.js';
import { createUsersRepo } from '../accounts/users_repo.js';
import { createConsentsRepo } from '../storage/consents_repo.js';
import { createPageRenderer } from '../pages/render_page.js';
import { clientMetadata } from '../storage/client_sync.js';
import { createScopeClaims } from '../accounts/scope_claims.js';
import { createResourceServers } from './resource_servers.js';
import { createProvider } from './create_provider.js';
import { newSigningKey, SIGNING_ALGS } from '../keys/key_store.js';

// oidc-provider's own checks of each client (redirect URI rules, grant/response type pairs, the
// scopes it knows, our extra metadata): what the zod schema cannot know. Run at start-up before
// clients are synced, and by `gatehouse config check` without a server.

/** One `clients[i]: …` line per client oidc-provider refuses. */
export async function clientProblems(provider: Provider, clients: readonly ClientConfig[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, client] of clients.entries()) {
    try {
      await provider.Client.validate(clientMetadata(client) as never);
    } catch (error) {
      const e = error as { error_description?: string; message: string };
      problems.push(`clients[${i}]: ${e.error_description ?? e.message}`);
    }
  }
  return problems;
}

export async function validateClients(provider: Provider, clients: readonly ClientConfig[]): Promise<void> {
  const problems = await clientProblems(provider, clients);
  if (problems.length) throw new ConfigError('config file', problems);
}

// Client validation reads the provider's configuration and which algorithms its keys can sign
// with, never its storage.
const refuse = () => {
  throw new Error('client validation does not use the database');
};
const noDb: Db = {
  kind: 'postgres',
  ownSessions: false,
  localChanges: createLocalChanges(),
  get pool(): never {
    return refuse();
  },
  query: async () => refuse(),
  transaction: async () => refuse(),
  close: async () => undefined,
};

/**
 * A provider configured exactly as the server's (same scopes, extra metadata, client defaults,
 * signing algorithms) but with throwaway keys and no database: enough for `Client.validate`,
 * unusable for anything else.
 */
export async function createValidationProvider(env: Env, config: GatehouseConfig): Promise<Provider> {
  const keys = await Promise.all(SIGNING_ALGS.map(async (alg) => (await newSigningKey(alg)).jwk));
  return createProvider({
    env,
    db: noDb,
    keys: { jwks: { keys }, cookieKeys: [], fingerprint: '', nextChangeAt: null },
    users: createUsersRepo(noDb),
    consents: createConsentsRepo(noDb),
    resources: createResourceServers(config.apis),
    scopeClaims: createScopeClaims(config.identity_resources),
    render: createPageRenderer(),
    trustedUris: () => new Set(),
  });
}
