import express from 'express';
import { requireCsrfToken, type Csrf } from '../http/csrf.js';
import { hostedForm, noStore, wrap } from '../http/hosted_forms.js';
import type { FederatedSignIn } from './federated_sign_in.js';

// The upstream sign-in routes (federated_sign_in.ts). The login page's buttons post to
// /upstream/<id>/start with the page's CSRF token (bound to the interaction uid); the
// upstream answers at /upstream/<id>/callback, the redirect URI registered there.

export function createFederationRouter(deps: { csrf: Csrf; federation: FederatedSignIn }): express.Router {
  const router = express.Router();
  const { federation } = deps;
  const interactionCsrf = (bindingOf: (req: express.Request) => string | undefined) => requireCsrfToken(deps.csrf, { purpose: 'interaction', bindingOf });

  router.post(
    '/upstream/:id/start',
    noStore,
    hostedForm,
    interactionCsrf((req) => (typeof req.query.interaction === 'string' ? req.query.interaction : undefined)),
    wrap(federation.start),
  );
  router.get('/upstream/:id/callback', noStore, wrap(federation.callback));
  router.get('/upstream/:id/signed-out', noStore, wrap(federation.signedOut));
  router.get('/interaction/:uid/upstream', noStore, wrap(federation.resume));
  router.post(
    '/interaction/:uid/upstream/link',
    noStore,
    hostedForm,
    interactionCsrf((req) => String(req.params.uid)),
    wrap(federation.link),
  );
  return router;
}
