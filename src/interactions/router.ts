import express from 'express';
import { errors } from 'oidc-provider';
import { createLogin, type LoginDeps } from './login.js';
import { createConsent, type ConsentDeps } from './consent.js';
import { createAbort } from './abort.js';
import { createPasskeySignIn, type PasskeySignInDeps } from './passkey_sign_in.js';
import { hostedJson } from '../http/json_body.js';
import { createSecondFactorStep, type SecondFactorDeps } from './second_factor.js';
import { requireCsrfToken, type Csrf } from '../http/csrf.js';
import { hostedForm, noStore, wrap } from '../http/hosted_forms.js';
import type { FederatedSignIn } from '../federation/federated_sign_in.js';
import type { RenderPage } from '../pages/render_page.js';
import { createRegistration, type RegistrationDeps } from './registration.js';
import { createVerifyEmail, VERIFY_EMAIL_PURPOSE, type VerifyEmailDeps } from './verify_email.js';

// /interaction/:uid — where oidc-provider sends the browser when it needs the user. The GET
// shows the step the provider is at; each POST carries the page's CSRF token (bound to the
// interaction uid) and checks that the provider is still at that step.

type Deps = LoginDeps & ConsentDeps & SecondFactorDeps & PasskeySignInDeps & RegistrationDeps & VerifyEmailDeps & { csrf: Csrf; federation: FederatedSignIn };

/**
 * The login page, with a button per upstream identity provider the interaction's client allows.
 * The login step passes the client it has already looked up (`clientId`); other pages rendering
 * the login view name only the interaction, which is then read for its client.
 */
function withUpstreamButtons(render: RenderPage, deps: Deps): RenderPage {
  return async (view, locals) => {
    if (view !== 'login' || typeof locals.uid !== 'string') return render(view, locals);
    const { provider } = deps.runtime();
    const clientId = typeof locals.clientId === 'string' ? locals.clientId : (await provider.Interaction.find(locals.uid))?.params.client_id;
    const client = typeof clientId === 'string' && clientId ? await provider.Client.find(clientId) : undefined;
    const upstreams = deps.federation.allowedFor(client).map((u) => ({ id: u.config.id, name: u.config.name }));
    const registrationOpen = deps.selfService().registration === 'open';
    return render(view, { ...locals, upstreams, registrationOpen });
  };
}

export function createInteractionRouter(deps: Deps): express.Router {
  const router = express.Router();
  const secondFactor = createSecondFactorStep(deps);
  const login = createLogin({ ...deps, render: withUpstreamButtons(deps.render, deps) }, secondFactor);
  const consent = createConsent(deps);
  const abort = createAbort(deps);
  const passkey = createPasskeySignIn(deps, secondFactor);
  const registration = createRegistration(deps, secondFactor);
  const verifyEmail = createVerifyEmail(deps, secondFactor);
  const verifyCsrf = requireCsrfToken(deps.csrf, {
    purpose: VERIFY_EMAIL_PURPOSE,
    bindingOf: (req) => {
      const token = (req.body as Record<string, unknown> | undefined)?.token;
      return typeof token === 'string' ? token : undefined;
    },
  });
  const csrf = requireCsrfToken(deps.csrf, {
    purpose: 'interaction',
    bindingOf: (req) => String(req.params.uid),
    // A form of a sign-in that has finished or expired: say that (and to sign in again), which
    // helps more than "this form has expired".
    beforeRefusing: (req, res) => deps.runtime().provider.interactionDetails(req, res),
  });

  router.get(
    '/interaction/:uid',
    noStore,
    wrap(async (req, res) => {
      const { provider } = deps.runtime();
      const details = await provider.interactionDetails(req, res);
      const client = await provider.Client.find(String(details.params.client_id));
      if (!client) throw new errors.InvalidClient('the application is no longer registered');
      if (details.prompt.name === 'login') {
        // The password is verified (or the session's user is known and only a second factor is
        // missing): the code form, or setting one up.
        if (await secondFactor.show(res, details)) return;
        // `upstream=<id>` (or `login_hint=upstream:<id>`) goes straight to that upstream.
        const hinted = deps.federation.hinted(details.params, client);
        if (hinted) {
          await deps.federation.begin(req, res, hinted, details.uid, client.clientId);
          return;
        }
        await login.show(res, details.uid, client, details.params.login_hint);
      } else if (details.prompt.name === 'consent') {
        await consent.show(req, res, details, client);
      } else {
        throw new errors.InvalidRequest(`unsupported prompt ${details.prompt.name}`);
      }
    }),
  );
  router.post('/interaction/:uid/login', noStore, hostedForm, csrf, wrap(login.submit));
  router.post('/interaction/:uid/mfa', noStore, hostedForm, csrf, wrap(secondFactor.submit));
  router.post('/interaction/:uid/mfa/enrol', noStore, hostedForm, csrf, wrap(secondFactor.enrol));
  router.post('/interaction/:uid/confirm', noStore, hostedForm, csrf, wrap(consent.submit));
  router.post('/interaction/:uid/abort', noStore, hostedForm, csrf, wrap(abort));
  // Self-service registration (404 unless config self_service.registration is open).
  router.get('/interaction/:uid/register', noStore, wrap(registration.show));
  router.post('/interaction/:uid/register', noStore, hostedForm, csrf, wrap(registration.submit));
  router.post('/interaction/:uid/resend-verification', noStore, hostedForm, csrf, wrap(verifyEmail.resend));
  // The mailed verification link: GET shows a button (link scanners change nothing), POST uses it.
  router.get('/verify-email', noStore, wrap(verifyEmail.show));
  router.post('/verify-email', noStore, hostedForm, verifyCsrf, wrap(verifyEmail.confirm));
  router.post('/interaction/:uid/verify-email', noStore, hostedForm, verifyCsrf, wrap(verifyEmail.confirm));
  // Passkeys (login page and second step): the script fetches options as JSON (the page's CSRF
  // token in the body), then posts the authenticator's response in a form.
  router.post('/interaction/:uid/passkey/options', noStore, hostedJson, csrf, wrap(passkey.options));
  router.post('/interaction/:uid/passkey', noStore, hostedForm, csrf, wrap(passkey.verify));
  return router;
}
