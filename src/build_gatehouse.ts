import { isDeepStrictEqual } from 'node:util';
import type express from 'express';
import type { Env } from './config/env.js';
import type { GatehouseConfig } from './config/gatehouse_config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import type { Logger } from './log.js';
import { ensureKeys } from './oidc/key_store.js';
import { syncClients } from './oidc/client_sync.js';
import { createValidationProvider, validateClients } from './oidc/validate_clients.js';
import { logProviderEvents } from './oidc/provider_events_log.js';
import { createProviderHost, type ProviderHost } from './oidc/provider_host.js';
import { createUsersRepo } from './accounts/users_repo.js';
import { createConsentsRepo } from './accounts/consents_repo.js';
import { createLoginThrottle } from './accounts/login_throttle.js';
import { createPageRenderer } from './http/render_page.js';
import { createApp } from './http/create_app.js';
import { createMetrics, type Metrics } from './http/metrics.js';

export interface Gatehouse {
  app: express.Express;
  host: ProviderHost;
  metrics: Metrics;
  /** Validates a new config against oidc-provider's rules, syncs its clients and serves it. */
  applyConfig(config: GatehouseConfig): Promise<void>;
}

/** Start-up after the database is open: schema, keys, provider, clients, app. */
export async function buildGatehouse({ env, log, config, db }: { env: Env; log: Logger; config: GatehouseConfig; db: Db }): Promise<Gatehouse> {
  const applied = await migrate(db);
  if (applied.length) log.info({ event: 'db.migrated', versions: applied }, 'database migrated');
  const createdKeys = await ensureKeys(db);
  if (createdKeys.length) log.info({ event: 'keys.generated', kids: createdKeys }, 'generated signing and cookie keys');

  const users = createUsersRepo(db);
  const consents = createConsentsRepo(db);
  const render = createPageRenderer();
  const metrics = createMetrics(db);
  const host = await createProviderHost(
    {
      env,
      db,
      log,
      users,
      consents,
      render,
      onProvider: (provider) => {
        logProviderEvents(provider, log);
        metrics.observeProvider(provider);
      },
    },
    config,
  );

  let served = config;
  async function applyConfig(next: GatehouseConfig): Promise<void> {
    // Which scopes a client may list depends on the APIs: a reload that adds an API and a client
    // using it is checked by a provider configured for the new file, not the one serving now.
    const checker = isDeepStrictEqual(next.apis, served.apis) ? host.current().provider : await createValidationProvider(env, next);
    await validateClients(checker, next.clients);
    const sync = await syncClients(db, next.clients);
    if (sync.added.length + sync.changed.length + sync.removed.length > 0) {
      log.info({ event: 'clients.synced', ...sync }, 'clients synced from the config file');
    }
    await host.reconfigure(next);
    served = next;
  }
  await applyConfig(config);

  const throttle = createLoginThrottle(db, env.loginThrottle);
  const app = createApp({ env, db, log, host, users, consents, throttle, render, metrics });
  return { app, host, metrics, applyConfig };
}
