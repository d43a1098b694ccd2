import type Provider from 'oidc-provider';
import type express from 'express';
import type { Env } from './config/env.js';
import type { GatehouseConfig } from './config/gatehouse_config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import type { Logger } from './log.js';
import { ensureKeys, loadKeys } from './oidc/key_store.js';
import { syncClients } from './oidc/client_sync.js';
import { validateClients } from './oidc/validate_clients.js';
import { createResourceServers } from './oidc/resource_servers.js';
import { createProvider } from './oidc/create_provider.js';
import { logProviderEvents } from './oidc/provider_events_log.js';
import { createUsersRepo } from './accounts/users_repo.js';
import { createConsentsRepo } from './accounts/consents_repo.js';
import { createPageRenderer } from './http/render_page.js';
import { createApp } from './http/create_app.js';
import { createMetrics } from './http/metrics.js';

export interface Gatehouse {
  app: express.Express;
  provider: Provider;
}

// Origins a hosted form may lead to (see security_headers.ts), and the back-channel URIs the
// admin registered (see trusted_fetch.ts), both from the config file's clients.
function clientOrigins(config: GatehouseConfig): string[] {
  const uris = config.clients.flatMap((c) => [...c.redirect_uris, ...c.post_logout_redirect_uris]);
  return [...new Set(uris.map((u) => new URL(u).origin).filter((o) => o !== 'null'))];
}

function backchannelUris(config: GatehouseConfig): Set<string> {
  return new Set(config.clients.flatMap((c) => (c.backchannel_logout_uri ? [new URL(c.backchannel_logout_uri).href] : [])));
}

/** Start-up after the database is open: schema, keys, provider, clients, app. */
export async function buildGatehouse({ env, log, config, db }: { env: Env; log: Logger; config: GatehouseConfig; db: Db }): Promise<Gatehouse> {
  const applied = await migrate(db);
  if (applied.length) log.info({ event: 'db.migrated', versions: applied }, 'database migrated');
  const createdKeys = await ensureKeys(db);
  if (createdKeys.length) log.info({ event: 'keys.generated', kids: createdKeys }, 'generated signing and cookie keys');

  const resources = createResourceServers(config.apis);
  const users = createUsersRepo(db);
  const consents = createConsentsRepo(db);
  const render = createPageRenderer();
  const origins = clientOrigins(config);
  const trusted = backchannelUris(config);

  const provider = createProvider({
    env,
    db,
    keys: await loadKeys(db),
    users,
    consents,
    resources,
    render,
    trustedUris: () => trusted,
  });
  logProviderEvents(provider, log);
  const metrics = createMetrics(db);
  metrics.observeProvider(provider);
  await validateClients(provider, config.clients);
  const sync = await syncClients(db, config.clients);
  if (sync.added.length + sync.changed.length + sync.removed.length > 0) {
    log.info({ event: 'clients.synced', ...sync }, 'clients synced from the config file');
  }

  const app = createApp({ env, db, log, provider, users, consents, resources, render, formActionOrigins: () => origins, metrics });
  return { app, provider };
}
