import { MACHINE_PATHS } from '../http/machine_paths.js';
import express from 'express';
import { pinoHttp } from 'pino-http';
import type { Env } from '../config/env.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import { createInteractionRouter } from '../interactions/router.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import type { ConsentsRepo } from '../storage/consents_repo.js';
import type { LoginThrottle } from '../throttling/login_throttle.js';
import type { ProviderHost } from '../provider/provider_host.js';
import { VIEWS_DIR, type RenderPage } from '../pages/render_page.js';
import { securityHeaders } from '../http/security_headers.js';
import { createHealthRouter } from '../observability/health.js';
import { errorPage } from './error_page.js';
import { brandAssets } from './brand_assets.js';
import { loggedPath } from '../http/logged_path.js';
import { metricsEndpoint, type Metrics } from '../observability/metrics.js';
import { providerBodyLimit } from '../http/provider_body_limit.js';
import { limitAuthorizationRequestSize } from '../http/authorization_request_size.js';
import { createRequestRateLimit } from '../throttling/request_rate_limit.js';
import type { Csrf } from '../http/csrf.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { SecondFactors } from '../mfa/second_factors.js';
import type { BackchannelQueue } from '../logout/backchannel_logout_queue.js';
import { createAccountRouter } from '../account_page/router.js';
import { trackRequestContext } from '../core/request_context.js';
import { holdWritesUntilResponse } from '../http/held_until_response.js';
import { trackPageLanguage } from '../i18n/page_language.js';
import { expressTrustProxy } from '../config/trust_proxy.js';
import { httpsOnly } from '../http/https_only.js';
import { issuerRequest } from '../http/issuer_request.js';
import { preparedDocuments } from '../http/prepared_documents.js';
import path from 'node:path';
import { createFederationRouter } from '../federation/router.js';
import type { FederatedSignIn } from '../federation/federated_sign_in.js';
import type { UpstreamIdentities } from '../accounts/upstream_identities.js';
import { vendorScripts } from '../http/vendor_scripts.js';
import type { PasskeyCeremonies } from '../passkeys/passkey_ceremonies.js';
import type { PasskeysRepo } from '../storage/passkeys_repo.js';
import type { Mailer } from '../mail/mailer.js';
import type { MailThrottle } from '../throttling/mail_throttle.js';
import type { ThrottleKeys } from '../throttling/throttle_keys.js';
import type { BrandingConfig, SelfServiceConfig } from '../config/gatehouse_config.js';
import type { SelfServiceMail } from '../accounts/self_service_mail.js';
import { createPasswordResetRouter } from '../self_service/password_reset.js';

export interface AppDeps {
  mfa: SecondFactors;
  env: Env;
  db: Db;
  log: Logger;
  host: ProviderHost;
  users: UsersRepo;
  consents: ConsentsRepo;
  throttle: LoginThrottle;
  render: RenderPage;
  metrics: Metrics;
  csrf: Csrf;
  audit: AuditLog;
  backchannel: BackchannelQueue;
  /** sign-in through upstream identity providers */
  federation: FederatedSignIn;
  identities: UpstreamIdentities;
  passkeys: PasskeyCeremonies;
  passkeysRepo: PasskeysRepo;
  /** outgoing mail (mail/mailer.ts) */
  mailer: Mailer;
  /** per address and per IP limits of the forms that send mail */
  mailThrottle: MailThrottle;
  throttleKeys: ThrottleKeys;
  /** the serving config's branding (name, logo, colour of the hosted pages) */
  branding: () => BrandingConfig | undefined;
  /** the serving config's self_service section */
  selfService: () => SelfServiceConfig;
  /** registration, verification and e-mail change mail and links (app/self_service_mail.ts) */
  selfServiceMail: SelfServiceMail;
  /** per-IP limit of registrations and of the other self-service forms */
  registrationLimit: (ip: string | undefined) => Promise<number | undefined>;
}

// Request order: metrics → request log → https only → discovery and JWKS as prepared → issuer's host →
// security headers → static → health →
// rate limit and size caps of what anonymous requests make us store → our pages → body limit → the provider.
// Nothing parses bodies before provider.callback(): it reads its own.
//
// The endpoints machines call in volume skip from the security headers straight to the body
// limit and the provider: none of the routes between answers those paths, and walking them
// (the pages' routers) was ≈ 10 µs of a 250 µs request. oidc-provider's default paths, which
// create_provider.ts keeps (http/machine_paths.ts); were they ever changed, these requests would take the long way.
// Discovery and the JWKS change only with the provider (a key rotation, a config reload): each is
// answered from the provider's first answer (http/prepared_documents.ts). New keys are published
// KEY_ROTATION_PROPAGATION_SECONDS (15 min by default) before they sign, so a JWKS cached for a
// minute never lacks a signing key; a killed key leaves caches within that minute.
const PREPARED_DOCUMENTS = [
  { path: '/.well-known/openid-configuration', cacheControl: 'public, max-age=300' },
  { path: '/jwks', cacheControl: 'public, max-age=60' },
];
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Only the proxies TRUST_PROXY names are believed (config/trust_proxy.ts).
  app.set('trust proxy', expressTrustProxy(deps.env.trustProxy));

  app.use(deps.metrics.middleware);
  // A line per request is an info-level line: below that level pino-http would still build and
  // redact a child logger for every request only to drop it (≈ 3.5 % of CPU in the benchmark).
  // Failures are logged at error level by errorPage and the provider's server_error event.
  if (deps.log.isLevelEnabled('info')) {
    app.use(
      pinoHttp({
        logger: deps.log,
        serializers: {
          req: (req: { method: string; url: string; id: unknown }) => ({ id: req.id, method: req.method, path: loggedPath(req.url) }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
        autoLogging: { ignore: (req) => req.url === '/healthz' },
      }),
    );
  }
  if (deps.env.secureCookies) app.use(httpsOnly(deps.env.issuer));
  app.use(preparedDocuments(PREPARED_DOCUMENTS, () => deps.host.current()));
  app.use(issuerRequest(deps.env.issuer));
  app.use(
    securityHeaders({
      https: deps.env.secureCookies,
      formActionOrigins: () => deps.host.current().formActionOrigins,
      imageOrigins: () => deps.host.current().imageOrigins,
    }),
  );
  const bodyLimit = providerBodyLimit();
  // Whichever provider is current (see provider_host.ts) answers the protocol routes.
  const toProvider: express.RequestHandler = (req, res) => deps.host.current().callback(req, res);
  app.use((req, res, next) => {
    if (!MACHINE_PATHS.has(req.path)) {
      next();
      return;
    }
    trackRequestContext(req, res, () => bodyLimit(req, res, (error?: unknown) => (error ? next(error) : toProvider(req, res, next))));
  });
  // Every page from here on (the provider's own too) speaks the reader's language (i18n/page_language.ts).
  app.use(trackPageLanguage);
  app.use(vendorScripts());
  app.use('/static', express.static(path.join(VIEWS_DIR, 'static'), { maxAge: '1h', index: false }));
  app.use(brandAssets(deps.branding));
  app.use(createHealthRouter(deps.db));
  app.get('/metrics', metricsEndpoint(deps.metrics, deps.env.metricsToken));
  app.get('/', async (_req, res) => {
    res.type('html').send(await deps.render('home', {}));
  });
  app.use(createRequestRateLimit(deps.db, deps.env.requestRateLimit));
  app.use(limitAuthorizationRequestSize());
  app.use(trackRequestContext);
  const answerError = errorPage(deps.render, deps.log);
  // Our pages' writes go out as one statement before their answer (http/held_until_response.ts).
  app.use(holdWritesUntilResponse(answerError));
  app.use(createFederationRouter(deps));
  app.use(createInteractionRouter({ ...deps, runtime: () => deps.host.current() }));
  app.use(createAccountRouter({ ...deps, runtime: () => deps.host.current() }));
  app.use(createPasswordResetRouter({ ...deps, runtime: () => deps.host.current() }));
  app.use(bodyLimit);
  app.use(toProvider);
  app.use(answerError);
  return app;
}
