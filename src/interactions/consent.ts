import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { ConsentsRepo, Consent } from '../storage/consents_repo.js';
import type { UsersRepo } from '../accounts/users_repo.js';
import { takeUserForRequest } from '../accounts/read_ahead_user.js';
import type { Runtime } from '../provider/provider_host.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import { WrongPrompt } from './interaction_errors.js';
import { finishInteraction } from './finish_interaction.js';
import { PROTOCOL_CLAIMS } from '../accounts/scope_claims.js';
import { skipsConsent } from '../provider/skips_consent.js';
import { describeApiUserClaims, describeClaim, describeScope } from '../pages/scope_descriptions.js';
import { addToGrant, grantable, grantedOIDCScope } from '../provider/grant_consent.js';
import { t } from '../i18n/page_language.js';

// The consent step: shows only what the client asks for that the user has not granted yet, and
// exactly what Allow will release (claims only as far as the shown scopes cover them,
// grant_consent.ts); Allow adds that to the grant and remembers it for this user and client;
// Deny is access_denied.

export interface ConsentDeps {
  runtime: () => Pick<Runtime, 'provider' | 'resources' | 'scopeClaims'>;
  users: UsersRepo;
  consents: ConsentsRepo;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue'>;
  audit: Pick<AuditLog, 'record'>;
}

interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export function createConsent({ runtime, users, consents, render, csrf, audit }: ConsentDeps) {
  function missing(details: Details): Consent {
    const d = details.prompt.details as PromptDetails;
    return {
      scope: d.missingOIDCScope ?? [],
      claims: d.missingOIDCClaims ?? [],
      resourceScopes: d.missingResourceScopes ?? {},
    };
  }

  async function grantAndFinish(req: Request, res: Response, details: Details, clientId: string, automatic: boolean): Promise<void> {
    const accountId = details.session?.accountId;
    if (!accountId) throw new WrongPrompt();
    const { provider, scopeClaims } = runtime();
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const wanted = addToGrant(scopeClaims, grant, missing(details));
    const grantId = await grant.save();
    await consents.remember(accountId, clientId, wanted);
    await audit.record({
      event: 'consent.given',
      accountId,
      clientId,
      ...requestOrigin(req),
      // `automatic`: a first-party client (skip_consent), no page was shown.
      details: { scope: wanted.scope, claims: wanted.claims, resource_scopes: wanted.resourceScopes, automatic },
    });
    await finishInteraction(res, details, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  return {
    async show(req: Request, res: Response, details: Details, client: Client): Promise<void> {
      if (skipsConsent(client)) {
        // First-party client asked with prompt=consent: nothing to ask the user.
        await grantAndFinish(req, res, details, client.clientId, true);
        return;
      }
      const { provider, resources, scopeClaims } = runtime();
      const held = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const wanted = grantable(scopeClaims, held ? grantedOIDCScope(held) : [], missing(details));
      // The user read with the interaction (storage/postgres_adapter.ts), else read now.
      const sub = details.session?.accountId;
      const user = sub ? (takeUserForRequest(sub) ?? (await users.findBySub(sub))) : undefined;
      const scopes = wanted.scope.map((s) => describeScope(s, scopeClaims.identityResources)).filter((s): s is string => !!s);
      // Claims a listed scope does not already describe (ones an earlier consent's scopes cover).
      const described = scopeClaims.claimsCoveredBy(wanted.scope);
      const claims = wanted.claims.filter((c) => !described.has(c) && !PROTOCOL_CLAIMS.has(c)).map(describeClaim);
      if (claims.length) scopes.push(t('scopes.see_claims', { claims: claims.join(', ') }));
      const apis = Object.entries(wanted.resourceScopes).map(([identifier, s]) => {
        const api = resources.byIdentifier(identifier);
        const name = api?.name ?? identifier;
        // What the API's tokens will tell it about the user (its `user_claims`), in words.
        return { name, scopes: s, receives: describeApiUserClaims(name, api?.user_claims ?? []) };
      });
      res
        .status(200)
        .type('html')
        .send(
          await render('consent', {
            uid: details.uid,
            csrfToken: csrf.issue('interaction', details.uid),
            clientName: client.clientName ?? client.clientId,
            // From the config file only (no dynamic registration): its origin is in the CSP's img-src.
            clientLogoUri: client.logoUri,
            accountName: user?.name ?? user?.username ?? t('consent.you'),
            scopes,
            apis,
          }),
        );
    },

    async submit(req: Request, res: Response): Promise<void> {
      const details = await runtime().provider.interactionDetails(req, res);
      if (details.prompt.name !== 'consent') throw new WrongPrompt();
      await grantAndFinish(req, res, details, String(details.params.client_id), false);
    },
  };
}
