import type { RequestListener } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type Provider from 'oidc-provider';
import type { Env } from '../config/env.js';
import type { GatehouseConfig, SelfServiceConfig } from '../config/gatehouse_config.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { ConsentsRepo } from '../storage/consents_repo.js';
import type { RenderPage } from '../pages/render_page.js';
import { createProvider } from './create_provider.js';
import { installExtensions, type ExtensionDeps } from './install_extensions.js';
import { loadKeys, type LoadedKeys } from '../keys/key_store.js';
import { createResourceServers, type ResourceServers } from './resource_servers.js';
import { createScopeClaims, type ScopeClaims } from '../accounts/scope_claims.js';
import { formActionSources } from './form_action_sources.js';
import type { Caches } from '../cache/caches.js';

// oidc-provider fixes its keys and configuration when it is constructed. To take a key
// rotation (made by any instance, or the CLI) or a reloaded config file without a restart,
// the host builds a fresh Provider and swaps it in; requests already running finish on the
// old one. All state lives in the database, so nothing is lost in the swap.

export interface Runtime {
  provider: Provider;
  /** provider.callback(), made once per provider */
  callback: RequestListener;
  resources: ResourceServers;
  /** the scopes and claims this provider releases (the config's identity resources included) */
  scopeClaims: ScopeClaims;
  /** origins the hosted forms may lead to (see security_headers.ts) */
  formActionOrigins: readonly string[];
  /** origins the pages' images may come from: the configured logos' (see security_headers.ts) */
  imageOrigins: readonly string[];
  /** the live cookie keys, the signing one first; they also key CSRF tokens (http/csrf.ts) */
  cookieKeys: readonly string[];
  /** the config file's self_service section (registration, password reset, ...) */
  selfService: SelfServiceConfig;
}

/** What each provider is built from, and the extensions installed on it (install_extensions.ts). */
export interface ProviderHostDeps extends ExtensionDeps {
  env: Env;
  db: Db;
  log: Logger;
  users: UsersRepo;
  consents: ConsentsRepo;
  render: RenderPage;
  caches?: Caches;
}

export interface ProviderHost {
  current(): Runtime;
  /** Re-reads the keys; rebuilds when the set or any key's state changed. */
  refreshKeys(): Promise<boolean>;
  /** Serves a new (validated, synced) config; the config already served with the same keys builds nothing. */
  reconfigure(config: GatehouseConfig): Promise<void>;
  /** Re-reads keys every KEY_REFRESH_SECONDS and when a pending key activates. */
  startRefreshing(): void;
  stop(): void;
}

function clientOrigins(config: GatehouseConfig): string[] {
  // The upstream identity providers' sign-in pages too: the upstream buttons' form redirects there.
  const upstreamUris = config.upstreams.map((u) => (u.type === 'oauth2' ? u.authorization_endpoint : u.issuer));
  const clientSources = config.clients.flatMap((c) =>
    [...c.redirect_uris, ...c.post_logout_redirect_uris].flatMap((u) => formActionSources(u, c.application_type)),
  );
  return [...new Set([...clientSources, ...upstreamUris.map((u) => new URL(u).origin)])];
}

// Back-channel logout URIs and jwks_uris the admin registered: fetched even on private addresses (trusted_fetch.ts).
function trustedClientUris(config: GatehouseConfig): Set<string> {
  const uris = config.clients.flatMap((c) => [c.backchannel_logout_uri, c.jwks_uri].filter((u): u is string => u !== undefined));
  return new Set(uris.map((u) => new URL(u).href));
}

// The branding logo and the clients' logos are the only images from elsewhere (the consent page shows a client's).
function logoOrigins(config: GatehouseConfig): string[] {
  const uris = [config.branding?.logo_uri, ...config.clients.map((c) => c.logo_uri)].filter((u): u is string => u !== undefined);
  return [...new Set(uris.map((u) => new URL(u).origin))];
}

export async function createProviderHost(deps: ProviderHostDeps, initialConfig: GatehouseConfig): Promise<ProviderHost> {
  let config = initialConfig;
  let keys: LoadedKeys = await loadKeys(deps.db);
  let runtime = build();
  let timer: NodeJS.Timeout | undefined;
  let activationTimer: NodeJS.Timeout | undefined;

  function build(): Runtime {
    const resources = createResourceServers(config.apis);
    const scopeClaims = createScopeClaims(config.identity_resources);
    const trusted = trustedClientUris(config);
    const provider = createProvider({
      env: deps.env,
      db: deps.db,
      caches: deps.caches,
      keys,
      users: deps.users,
      consents: deps.consents,
      resources,
      scopeClaims,
      render: deps.render,
      trustedUris: () => trusted,
    });
    installExtensions(provider, deps);
    deps.log.debug({ event: 'provider.built', keys: keys.fingerprint }, 'provider built');
    const handle = provider.callback();
    // Koa answers a request's errors itself (ctx.onerror): the promise it returns never rejects.
    const callback: RequestListener = (req, res) => {
      void handle(req, res);
    };
    return {
      provider,
      callback,
      resources,
      scopeClaims,
      formActionOrigins: clientOrigins(config),
      imageOrigins: logoOrigins(config),
      cookieKeys: keys.cookieKeys,
      selfService: config.self_service,
    };
  }

  function keysNotReloaded(error: unknown): void {
    deps.log.warn({ err: error }, 'could not reload keys');
  }

  function scheduleActivation(): void {
    clearTimeout(activationTimer);
    if (!keys.nextChangeAt) return;
    // Swap exactly when a pending key activates, not up to KEY_REFRESH_SECONDS later.
    const delay = Math.min(Math.max(keys.nextChangeAt.getTime() - Date.now() + 50, 0), 2 ** 31 - 1);
    // If the database is unreachable right then, the periodic refresh takes the change later.
    activationTimer = setTimeout(() => {
      host.refreshKeys().catch(keysNotReloaded);
    }, delay);
    activationTimer.unref();
  }

  const host: ProviderHost = {
    current: () => runtime,

    async refreshKeys() {
      const fresh = await loadKeys(deps.db);
      if (fresh.fingerprint === keys.fingerprint) return false;
      keys = fresh;
      runtime = build();
      scheduleActivation();
      deps.log.info({ event: 'keys.reloaded', keys: fresh.fingerprint }, 'signing keys changed; provider rebuilt');
      return true;
    },

    async reconfigure(next) {
      const fresh = await loadKeys(deps.db);
      // Start-up applies the config the host was just built with; a reload may re-read an
      // unchanged file. The provider serving it is the one a rebuild would make.
      if (isDeepStrictEqual(next, config) && fresh.fingerprint === keys.fingerprint) return;
      config = next;
      keys = fresh;
      runtime = build();
      scheduleActivation();
    },

    startRefreshing() {
      scheduleActivation();
      timer = setInterval(() => {
        host.refreshKeys().catch(keysNotReloaded);
      }, deps.env.keyRefreshMs);
      timer.unref();
    },

    stop() {
      clearInterval(timer);
      clearTimeout(activationTimer);
    },
  };
  return host;
}
