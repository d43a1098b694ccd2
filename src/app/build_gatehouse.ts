import { isDeepStrictEqual } from 'node:util';
import type express from 'express';
import type { Env } from '../config/env.js';
import type { GatehouseConfig } from '../config/gatehouse_config.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import type { Logger } from '../core/log.js';
import { ensureKeys } from '../keys/key_store.js';
import { syncClients } from '../storage/client_sync.js';
import { createValidationProvider, validateClients } from '../provider/validate_clients.js';
import { createProviderHost, type ProviderHost } from '../provider/provider_host.js';
import { createUsersRepo } from '../accounts/users_repo.js';
import { createConsentsRepo } from '../storage/consents_repo.js';
import { createLoginThrottle } from '../throttling/login_throttle.js';
import { loadThrottleKeys } from '../throttling/throttle_keys.js';
import { createPageRenderer } from '../pages/render_page.js';
import { createApp } from './create_app.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { configWarnings, formatWarning } from '../config/config_warnings.js';
import { createClientAuthThrottle } from '../throttling/client_auth_throttle.js';
import { createBackchannelQueue, type BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import { createCsrf } from '../http/csrf.js';
import { createAuditLog, type AuditLog } from '../audit/audit_log.js';
import { createSecondFactors } from '../mfa/second_factors.js';
import { loadSecretBox } from '../mfa/secret_box.js';
import { accountClient } from '../account_page/account_client.js';
import { createUpstreamRegistry } from '../federation/upstream_registry.js';
import { createFederatedSignIn, type FederatedSignIn } from '../federation/federated_sign_in.js';
import type { SessionUpstream } from '../provider/upstream_sessions.js';
import { createUpstreamRequests } from '../federation/upstream_requests.js';
import { createUpstreamIdentities } from '../accounts/upstream_identities.js';
import { createPasskeysRepo } from '../storage/passkeys_repo.js';
import { createPasskeyCeremonies } from '../passkeys/passkey_ceremonies.js';
import { createMailer, type Mailer } from '../mail/mailer.js';
import { createMailThrottle } from '../throttling/mail_throttle.js';
import { createSelfServiceMail } from './self_service_mail.js';
import { createRegistrationLimit } from '../throttling/registration_limit.js';
import { createDeviceFlowDeps } from '../provider/device_flow_install.js';
import { createCaches, type Caches } from '../cache/caches.js';
import { listenTarget } from '../cache/listen_target.js';

export interface Gatehouse {
  app: express.Express;
  host: ProviderHost;
  metrics: Metrics;
  audit: AuditLog;
  /** back-channel logout notices: sent at once, retried from Postgres */
  backchannel: BackchannelQueue;
  /** outgoing mail: queued in Postgres, sent at once, retried */
  mailer: Mailer;
  /** Validates a new config against oidc-provider's rules, syncs its clients and serves it. One call at a time. */
  applyConfig(config: GatehouseConfig): Promise<void>;
  /** the read caches and their listener (README "Caches"); closed on shutdown */
  caches: Caches;
  /** Reloads the keys as soon as the database announces a change to them (with the periodic refresh). */
  followKeyChanges(): void;
}

/** Start-up after the database is open: schema, keys, provider, clients, app. */
export async function buildGatehouse({ env, log, config, db }: { env: Env; log: Logger; config: GatehouseConfig; db: Db }): Promise<Gatehouse> {
  const applied = await migrate(db);
  if (applied.length) log.info({ event: 'db.migrated', versions: applied }, 'database migrated');
  const createdKeys = await ensureKeys(db);
  if (createdKeys.length) log.info({ event: 'keys.generated', kids: createdKeys }, 'generated signing and cookie keys');

  if (env.trustProxyDeprecation) log.warn({ event: 'config.deprecated', variable: 'TRUST_PROXY' }, env.trustProxyDeprecation);
  if (env.secureCookies && env.trustProxy.kind === 'off') {
    log.warn(
      { event: 'config.https_without_proxy' },
      'ISSUER is https but TRUST_PROXY is off: Gatehouse serves plain http, so every request but /healthz, /readyz and /metrics is redirected to the issuer; set TRUST_PROXY to the TLS-terminating proxy',
    );
  }
  const users = createUsersRepo(db);
  const consents = createConsentsRepo(db);
  // `served` is set below, before anything renders: the pages follow each reloaded config's branding.
  const render = createPageRenderer({ branding: () => served.branding });
  const target = listenTarget(db, env.databaseListenUrl);
  const caches = createCaches({
    listenConfig: target.config,
    noListenReason: target.reason,
    maxBytes: env.cacheMaxBytes,
    localChanges: db.localChanges,
    // Correct answers all the same (every read goes to the database), only slower.
    onListenerDown: (error) =>
      log.warn({ event: 'cache.listener_down', err: error }, 'cache listener disconnected: caches emptied and bypassed until it is back'),
    onListenerUp: () => log.info({ event: 'cache.listener_up' }, 'cache listener connected: caches in use'),
  });
  if (caches.disabledBecause) log.info({ event: 'cache.disabled', reason: caches.disabledBecause }, `no read cache: ${caches.disabledBecause}`);
  const metrics = createMetrics(db, caches.read);
  const audit = createAuditLog({ db, log });
  // Shared by every instance on the database (migrations/0009): the throttle rows' key HMAC.
  const throttleKeys = await loadThrottleKeys(db);
  const clientAuthThrottle = createClientAuthThrottle(db, throttleKeys, env.clientAuthThrottle);
  const backchannel = createBackchannelQueue({ db, log, provider: () => host.current().provider, settings: env.backchannel });
  const mailer = createMailer({ db, log, settings: env.mail });
  const mailThrottle = createMailThrottle(db, throttleKeys, env.mailThrottle);
  // Upstream identity providers: discovered in the background, a failure only a warning.
  const upstreams = createUpstreamRegistry(log, []);
  // `federation` is made below; no sign-out reaches the provider before the app serves.
  const upstreamSignOut = (upstream: SessionUpstream, continueTo: string) => federation.signOutUrl(upstream, continueTo);
  const host: ProviderHost = await createProviderHost(
    {
      env,
      db,
      log,
      users,
      consents,
      render,
      audit,
      metrics,
      backchannel,
      clientAuthThrottle,
      upstreamSignOut,
      deviceFlow: createDeviceFlowDeps(db, env.deviceFlow),
      caches,
    },
    config,
  );

  let served = config;
  // Callers apply one config at a time (start-up, then SIGHUP reloads through
  // process/serial_reloads.ts): a slower, older one finishing last would leave the database and
  // the serving provider on it.
  async function applyConfig(next: GatehouseConfig): Promise<void> {
    // Which scopes a client may list depends on the APIs and the identity resources: a reload
    // that adds one and a client using it is checked by a provider configured for the new file,
    // not the one serving now.
    const sameScopes = isDeepStrictEqual(next.apis, served.apis) && isDeepStrictEqual(next.identity_resources, served.identity_resources);
    const checker = sameScopes ? host.current().provider : await createValidationProvider(env, next);
    // The account page's built-in client is synced with the file's, so no reload removes it.
    const clients = [...next.clients, accountClient(env.issuer)];
    await validateClients(checker, clients);
    const sync = await syncClients(db, clients);
    if (sync.added.length + sync.changed.length + sync.removed.length > 0) {
      log.info({ event: 'clients.synced', ...sync }, 'clients synced from the config file');
    }
    await host.reconfigure(next);
    upstreams.reconfigure(next.upstreams);
    served = next;
    for (const warning of configWarnings(next)) {
      log.warn({ event: 'config.warning', path: warning.path, problem: warning.message }, `config file: ${formatWarning(warning)}`);
    }
  }
  await applyConfig(config);

  const throttle = createLoginThrottle(db, throttleKeys, env.loginThrottle);
  // CSRF tokens are keyed by the cookie keys the serving provider was built with.
  const csrf = createCsrf({ cookieKeys: () => host.current().cookieKeys });
  const identities = createUpstreamIdentities(db);
  const federation: FederatedSignIn = createFederatedSignIn({
    runtime: () => host.current(),
    issuer: env.issuer,
    users,
    identities,
    requests: createUpstreamRequests(db),
    upstreams,
    render,
    csrf,
    audit,
    log,
  });
  // Second factors: TOTP secrets sealed under MFA_ENCRYPTION_KEY or the database's own key (secret_box.ts).
  const mfa = await createSecondFactors(db, await loadSecretBox(db, env.mfaKeys), new URL(env.issuer).host);
  // Passkeys: the relying-party id is ISSUER's hostname, the only origin ISSUER's origin.
  const passkeysRepo = createPasskeysRepo(db);
  const passkeys = createPasskeyCeremonies({ issuer: env.issuer, rpName: 'Gatehouse', passkeys: passkeysRepo });
  const app = createApp({
    env,
    db,
    log,
    host,
    users,
    consents,
    throttle,
    render,
    metrics,
    csrf,
    audit,
    backchannel,
    federation,
    identities,
    mfa,
    passkeys,
    passkeysRepo,
    mailer,
    mailThrottle,
    throttleKeys,
    selfService: () => served.self_service,
    branding: () => served.branding,
    selfServiceMail: createSelfServiceMail({ db, mailer, issuer: env.issuer }),
    registrationLimit: createRegistrationLimit(db),
  });
  const followKeyChanges = () =>
    caches.keysChanged(() => {
      host.refreshKeys().catch((error: unknown) => log.warn({ err: error }, 'could not reload keys'));
    });
  return { app, host, metrics, audit, backchannel, mailer, applyConfig, caches, followKeyChanges };
}
