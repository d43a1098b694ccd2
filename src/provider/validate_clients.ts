import type Provider from 'oidc-provider';
import type { Env } from '../config/env.js';
import type { ClientConfig, GatehouseConfig } from '../config/gatehouse_config.js';
import { ConfigError, formatProblem, type Problem } from '../config/format_issues.js';
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

// The library's words for some refusals, said the way a developer fixing the file needs them.
const OUR_WORDS: Record<string, string> = {
  'must only contain web uris': 'must be an http(s) URL for a web client; a custom scheme (com.example.app:/callback) needs "application_type": "native"',
  'for native clients using http as a protocol can only use loopback addresses as hostnames':
    'a native client may use http only with a loopback address (127.0.0.1, [::1] or localhost) as host',
};

interface Refusal {
  /** the metadata field the library names first in its message, if one of the client's */
  field?: string;
  message: string;
  /** the library's own words */
  text: string;
}

async function refusal(provider: Provider, metadata: Record<string, unknown>): Promise<Refusal | undefined> {
  try {
    await provider.Client.validate(metadata as never);
    return undefined;
  } catch (error) {
    const e = error as { error_description?: string; message: string };
    const text = e.error_description ?? e.message;
    // "redirect_uris must only contain web uris": the library starts with the field's name.
    const [, field, rest] = /^([a-z_]+) (.+)$/.exec(text) ?? [];
    if (field && rest && field in metadata) return { field, message: OUR_WORDS[rest] ?? rest, text };
    return { message: text, text };
  }
}

/**
 * Every refusal of one client, each at its path: the library stops at the first, so the field it
 * named is taken out (the offending entries of a URI list, or the field) and the client tried
 * again, a few times.
 */
async function refusalsOf(provider: Provider, client: ClientConfig, at: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const metadata = clientMetadata(client);
  const named = new Set<string>();
  for (let round = 0; round < 8; round++) {
    const found = await refusal(provider, metadata);
    if (!found) break;
    const { field, message, text } = found;
    // Taking a field out may only make the library miss it ("redirect_uris is mandatory property").
    if ([...named].some((n) => text.includes(n))) break;
    if (!field || named.has(field)) {
      if (!field) problems.push({ path: at, message });
      break;
    }
    named.add(field);
    const value = metadata[field];
    if (Array.isArray(value) && value.length > 1) {
      // Which entries of the list: each one tried alone.
      const bad: number[] = [];
      for (const [j, item] of value.entries()) if ((await refusal(provider, { ...metadata, [field]: [item] }))?.field === field) bad.push(j);
      for (const j of bad.length ? bad : [-1]) problems.push({ path: j < 0 ? `${at}.${field}` : `${at}.${field}[${j}]`, message });
      const kept = value.filter((_, j) => !bad.includes(j));
      if (kept.length === 0 || bad.length === 0) break;
      metadata[field] = kept;
    } else {
      problems.push({ path: Array.isArray(value) && value.length === 1 ? `${at}.${field}[0]` : `${at}.${field}`, message });
      Reflect.deleteProperty(metadata, field);
    }
  }
  return problems;
}

/**
 * The problems oidc-provider finds in the clients, each at its path. `positions[k]` is where
 * `clients[k]` sits in the file (a file with problems is checked on its valid clients only).
 */
export async function clientProblems(
  provider: Provider,
  clients: readonly ClientConfig[],
  positions: readonly number[] = clients.map((_, i) => i),
): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const [k, client] of clients.entries()) problems.push(...(await refusalsOf(provider, client, `clients[${positions[k] ?? k}]`)));
  return problems;
}

export async function validateClients(provider: Provider, clients: readonly ClientConfig[]): Promise<void> {
  const problems = await clientProblems(provider, clients);
  if (problems.length) throw new ConfigError('config file', problems.map(formatProblem));
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
