import type Provider from 'oidc-provider';
import type { Logger } from '../core/log.js';
import type { RenderPage } from '../pages/render_page.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { Metrics } from '../observability/metrics.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import type { ClientAuthThrottle } from '../throttling/client_auth_throttle.js';
import { addFrontchannelLogout } from '../logout/frontchannel_logout.js';
import { refuseConcurrentReplays } from '../storage/replay_detection.js';
import { CLIENT_AUTH_ERROR_EVENTS, limitClientAuthFailures } from '../throttling/client_auth_lockout.js';
import { reuseClientInstances } from './client_instances.js';
import { addSessionClaimsToIdTokens } from './id_token_session_claims.js';
import { answerDatabaseOutages } from './database_outage.js';
import { answerEscapedErrors } from './escaped_errors.js';
import { flushHeldWrites } from './flush_held_writes.js';
import { challengeMissingDpopProofs } from './dpop_proof_challenge.js';
import { createProviderPages } from './hosted_provider_pages.js';
import { logProviderEvents } from './provider_events_log.js';
import { auditProviderEvents } from './provider_audit_events.js';
import { countProviderEvents } from './provider_metrics.js';
import { onProviderEvent } from './provider_events.js';
import { signOutAtUpstreams, type UpstreamSignOut } from './upstream_sessions.js';
import { installDeviceFlow, type DeviceFlowDeps } from './device_flow_install.js';
import { speakInteractionLanguage } from './interaction_language.js';

// Everything Gatehouse adds to oidc-provider beyond its configuration (create_provider.ts):
// wrapped models, middleware around its routes, and listeners on its events. Installed on every
// provider the host serves (provider_host.ts), in this order. The order matters for middleware:
// the first installed runs outermost, so it sees the response the later ones have finished.

export interface ExtensionDeps {
  /** signing out at an upstream identity provider too (src/federation/); none: never */
  upstreamSignOut?: UpstreamSignOut;
  log: Logger;
  render: RenderPage;
  audit: AuditLog;
  metrics: Metrics;
  backchannel: Pick<BackchannelQueue, 'install'>;
  clientAuthThrottle: ClientAuthThrottle;
  /** the device authorization grant's guards (device_flow_install.ts) */
  deviceFlow: DeviceFlowDeps;
}

type Extension = (provider: Provider, deps: ExtensionDeps) => void;

const EXTENSIONS: readonly Extension[] = [
  // Interaction pages speak the authorization request's ui_locales (then Accept-Language).
  (provider) => {
    speakInteractionLanguage(provider);
  },
  // Every ID token carries `sid`, and those from the token endpoint `at_hash`.
  (provider) => {
    addSessionClaimsToIdTokens(provider);
  },
  // A confirmed sign-out loads each client's frontchannel_logout_uri before going on.
  (provider, { render }) => {
    addFrontchannelLogout(provider, render);
  },
  // A session from an upstream with `end_session` signs out there too (inside the page above).
  (provider, { upstreamSignOut }) => {
    if (upstreamSignOut) signOutAtUpstreams(provider, upstreamSignOut);
  },
  // An unreachable database is answered 503 temporarily_unavailable with Retry-After, not 500.
  (provider, { render }) => {
    answerDatabaseOutages(provider, render);
  },
  // An OAuth error thrown after a route answered gets the route's error page or JSON, not bare text.
  (provider, { render }) => {
    const pages = createProviderPages(render);
    answerEscapedErrors(provider, (ctx, out) => pages.renderError(ctx, out));
  },
  // A request's writes are held and sent as one statement before its answer is written (inside the two above).
  (provider, { render, log }) => {
    const pages = createProviderPages(render);
    flushHeldWrites(provider, (ctx, out) => pages.renderError(ctx, out), log);
  },
  // A DPoP-bound token at userinfo without its proof: 401 with a DPoP challenge, not a 400.
  (provider) => {
    challengeMissingDpopProofs(provider);
  },
  // Two requests presenting the same client assertion or DPoP proof at once: only one is served.
  (provider) => {
    refuseConcurrentReplays(provider);
  },
  // The library's events become log lines: identifiers only, never token values.
  (provider, { log }) => {
    logProviderEvents(provider, log);
  },
  // Sign-outs, revocations and replayed codes or refresh tokens are written to the audit trail.
  (provider, { audit }) => {
    auditProviderEvents(provider, audit);
  },
  // Tokens issued and back-channel deliveries are counted for /metrics.
  (provider, { metrics }) => {
    countProviderEvents(provider, metrics);
  },
  // Back-channel logout notices are stored first and retried until the client acknowledges them.
  (provider, { backchannel }) => {
    backchannel.install(provider);
  },
  // A client's Client is reused while its metadata is unchanged (before the lockout wraps the look-up).
  (provider) => {
    reuseClientInstances(provider);
  },
  // A client failing authentication too often is locked per address (429), and slowed when many addresses try.
  (provider, { clientAuthThrottle, log, metrics, audit }) => {
    const noteFailure = limitClientAuthFailures(provider, { throttle: clientAuthThrottle, log, metrics, audit });
    for (const event of CLIENT_AUTH_ERROR_EVENTS) onProviderEvent(provider, event, noteFailure);
  },
  // /device: prefilled codes, wrong codes locked out per address, polling paced, outcomes audited.
  (provider, deps) => {
    installDeviceFlow(provider, deps.deviceFlow, deps);
  },
];

export function installExtensions(provider: Provider, deps: ExtensionDeps): void {
  for (const install of EXTENSIONS) install(provider, deps);
}
