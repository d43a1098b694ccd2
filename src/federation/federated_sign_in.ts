import type { Request, Response } from 'express';
import type { Client } from 'oidc-provider';
import { errors } from 'oidc-provider';
import * as oidc from 'openid-client';
import type { Runtime } from '../provider/provider_host.js';
import type { SessionUpstream } from '../provider/upstream_sessions.js';
import type { UsersRepo, User } from '../accounts/users_repo.js';
import { IdentityTaken, type UpstreamIdentities } from '../accounts/upstream_identities.js';
import { checkPassword } from '../accounts/passwords.js';
import type { RenderPage } from '../pages/render_page.js';
import type { Csrf } from '../http/csrf.js';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';
import type { Logger } from '../core/log.js';
import type { UpstreamRegistry, Upstream } from './upstream_registry.js';
import { UpstreamFailure } from './upstream_failure.js';
import type { Outcome, UpstreamRequests } from './upstream_requests.js';
import { mappedClaims, profileOf, usernameBase, type UpstreamProfile } from './upstream_profile.js';
import { t } from '../i18n/page_language.js';

// Sign-in through an upstream identity provider, in four steps:
// 1. start: the login page's button (or a hint) → a state, nonce and PKCE verifier kept
//    server-side, bound to the interaction → the upstream's authorization endpoint;
// 2. callback (`/upstream/<id>/callback`): the pending request is claimed once by its state,
//    the code exchanged (openid-client checks state, PKCE, the ID token's signature against the
//    upstream's JWKS, its iss, aud and nonce), and the local account found, linked or created;
// 3. resume (`/interaction/<uid>/upstream`, where the browser's interaction cookie is sent):
//    the interaction that started it, and only that one, takes the decision and finishes;
// 4. link: an existing local account with the same email joins only with its password (or at
//    once when the upstream's `link` is "email" and it vouches for the email).
// Every failure is an UpstreamFailure: a Gatehouse error page and an `upstream.failure` row.

export interface FederationDeps {
  runtime: () => Pick<Runtime, 'provider'>;
  issuer: string;
  users: UsersRepo;
  identities: UpstreamIdentities;
  requests: UpstreamRequests;
  upstreams: UpstreamRegistry;
  render: RenderPage;
  csrf: Pick<Csrf, 'issue' | 'verify'>;
  audit: Pick<AuditLog, 'record'>;
  log: Logger;
}

/** The upstream ids a client lists in its `upstreams` metadata; undefined: every upstream. */
function clientUpstreams(client: Client | undefined): readonly string[] | undefined {
  const listed = (client as unknown as { upstreams?: unknown } | undefined)?.upstreams;
  return Array.isArray(listed) ? (listed as string[]) : undefined;
}

/** What went wrong with an openid-client call, in our terms. */
function classify(error: unknown, upstream: Upstream): UpstreamFailure {
  if (error instanceof UpstreamFailure) return error;
  const name = upstream.config.name;
  const at = { upstreamId: upstream.config.id, cause: error };
  if (error instanceof oidc.ResponseBodyError || error instanceof oidc.AuthorizationResponseError) {
    return new UpstreamFailure('upstream_error', `${name} refused the sign-in (${error.error})`, at);
  }
  const e = error as { name?: string; cause?: unknown };
  const unreachable =
    e.name === 'TimeoutError' || e.name === 'AbortError' || (error instanceof TypeError && /fetch failed/.test(error.message)) || e.cause instanceof TypeError;
  if (unreachable) return new UpstreamFailure('unavailable', `${name} could not be reached`, at);
  return new UpstreamFailure('invalid_response', `${name} answered with something that could not be verified`, at);
}

export function createFederatedSignIn(deps: FederationDeps) {
  const { users, identities, requests, upstreams, audit, log } = deps;
  const redirectUri = (upstream: Upstream) => `${deps.issuer}/upstream/${upstream.config.id}/callback`;

  async function failed(req: Request, failure: UpstreamFailure, extra: { clientId?: string | undefined; accountId?: string | undefined } = {}) {
    await audit.record({
      event: 'upstream.failure',
      ...requestOrigin(req),
      clientId: extra.clientId,
      accountId: extra.accountId ?? failure.accountId,
      details: { upstream: failure.upstreamId, reason: failure.reason },
    });
    log.info(
      { event: 'upstream.failure', upstream: failure.upstreamId, reason: failure.reason, cause: (failure.cause as Error | undefined)?.message },
      'upstream sign-in failed',
    );
  }

  /** The upstreams the login page offers to this client's users. */
  function allowedFor(client: Client | undefined): Upstream[] {
    const listed = clientUpstreams(client);
    return upstreams.list().filter((u) => !listed || listed.includes(u.config.id));
  }

  /** The upstream the authorization request asks to go straight to: `upstream=<id>` or `login_hint=upstream:<id>`. */
  function hinted(params: Record<string, unknown>, client: Client | undefined): Upstream | undefined {
    const hint =
      typeof params.upstream === 'string'
        ? params.upstream
        : typeof params.login_hint === 'string' && params.login_hint.startsWith('upstream:')
          ? params.login_hint.slice(9)
          : undefined;
    return hint === undefined ? undefined : allowedFor(client).find((u) => u.config.id === hint);
  }

  /** Sends the browser to `upstream` for interaction `uid`. */
  async function begin(req: Request, res: Response, upstream: Upstream, uid: string, clientId: string | undefined) {
    let client: oidc.Configuration;
    try {
      client = await upstream.client();
    } catch (error) {
      const failure = classify(error, upstream);
      await failed(req, failure, { clientId });
      throw failure;
    }
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    await requests.save(state, { upstream_id: upstream.config.id, interaction_uid: uid, nonce, code_verifier: codeVerifier });
    const params: Record<string, string> = {
      redirect_uri: redirectUri(upstream),
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (upstream.config.scope) params.scope = upstream.config.scope;
    if (upstream.config.type === 'oidc') params.nonce = nonce;
    res.redirect(303, oidc.buildAuthorizationUrl(client, params).href);
  }

  /** Exchanges the code; returns the upstream's profile (and ID token, amr). */
  async function exchange(upstream: Upstream, callbackUrl: URL, pending: { nonce: string; code_verifier: string }, state: string) {
    try {
      const client = await upstream.client();
      if (upstream.config.type === 'oauth2') {
        const tokens = await oidc.authorizationCodeGrant(
          client,
          callbackUrl,
          { pkceCodeVerifier: pending.code_verifier, expectedState: state },
          { redirect_uri: redirectUri(upstream) },
        );
        const response = await oidc.fetchProtectedResource(
          client,
          tokens.access_token,
          new URL(upstream.config.userinfo_endpoint),
          'GET',
          undefined,
          new Headers({ accept: 'application/json' }),
        );
        if (!response.ok)
          throw new UpstreamFailure('upstream_error', `${upstream.config.name} did not say who you are (HTTP ${response.status})`, {
            upstreamId: upstream.config.id,
          });
        const userinfo: unknown = await response.json();
        if (!userinfo || typeof userinfo !== 'object')
          throw new UpstreamFailure('invalid_response', `${upstream.config.name} did not say who you are`, { upstreamId: upstream.config.id });
        return { claims: mappedClaims(upstream.config, userinfo as Record<string, unknown>), idToken: undefined, amr: undefined };
      }
      const tokens = await oidc.authorizationCodeGrant(
        client,
        callbackUrl,
        { pkceCodeVerifier: pending.code_verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true },
        { redirect_uri: redirectUri(upstream) },
      );
      const idClaims = tokens.claims();
      if (!idClaims) throw new UpstreamFailure('invalid_response', `${upstream.config.name} sent no ID token`, { upstreamId: upstream.config.id });
      let claims: Record<string, unknown> = { ...idClaims };
      if (client.serverMetadata().userinfo_endpoint && tokens.access_token) {
        claims = { ...(await oidc.fetchUserInfo(client, tokens.access_token, idClaims.sub)), sub: idClaims.sub };
      }
      const amr = Array.isArray(idClaims.amr) && idClaims.amr.every((v) => typeof v === 'string') ? idClaims.amr : undefined;
      return { claims, idToken: tokens.id_token, amr };
    } catch (error) {
      throw classify(error, upstream);
    }
  }

  /** Finds, links or creates the local account for the upstream's profile. */
  async function decide(req: Request, upstream: Upstream, profile: UpstreamProfile, idToken: string | undefined, amr: string[] | undefined): Promise<Outcome> {
    const failure = (reason: 'disabled' | 'email_taken', text: string, accountId?: string) =>
      new UpstreamFailure(reason, text, { upstreamId: upstream.config.id, accountId });
    const origin = requestOrigin(req);
    const linked = await identities.use(upstream.issuer, profile.sub);
    let user: User | undefined;
    if (linked) {
      user = await users.findBySub(linked.sub);
      if (!user || user.disabled) throw failure('disabled', t('login.error.disabled'), linked.sub);
      return { kind: 'sign_in', sub: user.sub, idToken, amr, created: false };
    }
    const existing = profile.email ? await users.findByEmail(profile.email) : undefined;
    if (existing) {
      if (upstream.config.link === 'email' && profile.email_verified) {
        if (existing.disabled) throw failure('disabled', t('login.error.disabled'), existing.sub);
        await identities.link({ upstreamId: upstream.config.id, issuer: upstream.issuer, upstreamSub: profile.sub, sub: existing.sub });
        await audit.record({
          event: 'upstream.linked',
          ...origin,
          accountId: existing.sub,
          username: existing.username,
          details: { upstream: upstream.config.id, how: 'email' },
        });
        return { kind: 'sign_in', sub: existing.sub, idToken, amr, created: false };
      }
      return { kind: 'link', sub: existing.sub, issuer: upstream.issuer, upstreamSub: profile.sub, idToken, amr };
    }
    user = await users.createWithoutPassword({
      usernameBase: usernameBase(profile),
      email: profile.email,
      email_verified: profile.email !== undefined && profile.email_verified,
      name: profile.name,
      given_name: profile.given_name,
      family_name: profile.family_name,
    });
    try {
      await identities.link({ upstreamId: upstream.config.id, issuer: upstream.issuer, upstreamSub: profile.sub, sub: user.sub });
    } catch (error) {
      // The same upstream account's first sign-in ran twice at once and the other one linked
      // first: this user goes again, and the sign-in is the other one's.
      if (!(error instanceof IdentityTaken)) throw error;
      await users.delete(user.username);
      const winner = await identities.use(upstream.issuer, profile.sub);
      if (!winner) throw error;
      return { kind: 'sign_in', sub: winner.sub, idToken, amr, created: false };
    }
    await audit.record({ event: 'user.added', ...origin, accountId: user.sub, username: user.username, details: { upstream: upstream.config.id } });
    await audit.record({
      event: 'upstream.linked',
      ...origin,
      accountId: user.sub,
      username: user.username,
      details: { upstream: upstream.config.id, how: 'created' },
    });
    return { kind: 'sign_in', sub: user.sub, idToken, amr, created: true };
  }

  async function finish(
    req: Request,
    res: Response,
    upstream: Upstream,
    user: User,
    outcome: { idToken?: string | undefined; amr?: string[] | undefined },
    clientId: string | undefined,
  ) {
    await audit.record({
      event: 'login.success',
      ...requestOrigin(req),
      clientId,
      accountId: user.sub,
      username: user.username,
      details: { amr: outcome.amr ?? [], upstream: upstream.config.id },
    });
    // `upstream` rides in the login result into the session (provider/upstream_sessions.ts):
    // the ID token's `idp` claim, and the upstream ID token for signing out there.
    const login = {
      accountId: user.sub,
      amr: outcome.amr ?? [],
      ts: Math.floor(Date.now() / 1000),
      remember: false,
      upstream: {
        id: upstream.config.id,
        ...(upstream.config.type === 'oidc' && upstream.config.end_session && outcome.idToken ? { id_token: outcome.idToken } : {}),
      },
    };
    await deps.runtime().provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }

  async function linkPage(res: Response, status: number, locals: { uid: string; state: string; upstream: Upstream; user: User; error?: string }) {
    const csrfToken = deps.csrf.issue('interaction', locals.uid);
    res
      .status(status)
      .type('html')
      .send(
        await deps.render('upstream_link', {
          uid: locals.uid,
          state: locals.state,
          upstreamName: locals.upstream.config.name,
          username: locals.user.username,
          error: locals.error,
          csrfToken,
        }),
      );
  }

  const stateOf = (req: Request) => {
    const from = req.method === 'POST' ? (req.body as Record<string, unknown> | undefined)?.state : req.query.state;
    return typeof from === 'string' && from.length > 0 && from.length <= 200 ? from : undefined;
  };

  const SIGN_OUT = 'upstream-sign-out';

  return {
    /**
     * The upstream's end-session URL for a session that signed in through it (end_session set,
     * its ID token kept), coming back to /upstream/<id>/signed-out and from there to
     * `continueTo`, which rides in `state` with a MAC (no open redirect, nothing stored).
     */
    async signOutUrl(session: SessionUpstream, continueTo: string): Promise<string | undefined> {
      const upstream = upstreams.get(session.id);
      if (upstream?.config.type !== 'oidc' || !upstream.config.end_session || !session.id_token) return undefined;
      const client = await upstream.client();
      if (!client.serverMetadata().end_session_endpoint) return undefined;
      const state = `${deps.csrf.issue(SIGN_OUT, continueTo)}.${Buffer.from(continueTo).toString('base64url')}`;
      return oidc.buildEndSessionUrl(client, {
        id_token_hint: session.id_token,
        post_logout_redirect_uri: `${deps.issuer}/upstream/${upstream.config.id}/signed-out`,
        state,
      }).href;
    },

    /** GET /upstream/:id/signed-out?state=: back from the upstream's sign-out, on to where Gatehouse's was going. */
    async signedOut(req: Request, res: Response): Promise<void> {
      const state = typeof req.query.state === 'string' ? req.query.state : '';
      const dot = state.lastIndexOf('.');
      const continueTo = dot > 0 ? Buffer.from(state.slice(dot + 1), 'base64url').toString() : '';
      const verified = continueTo && deps.csrf.verify(SIGN_OUT, continueTo, state.slice(0, dot));
      res.redirect(303, verified ? continueTo : '/session/end/success');
    },

    /** The configured name of upstream `id` (for /account), if it is still configured. */
    upstreamName: (id: string) => upstreams.get(id)?.config.name,
    allowedFor,
    hinted,
    begin,

    /** POST /upstream/:id/start?interaction=<uid> (CSRF-checked by the router, bound to the uid). */
    async start(req: Request, res: Response): Promise<void> {
      const uid = typeof req.query.interaction === 'string' ? req.query.interaction : '';
      const { provider } = deps.runtime();
      const interaction = await provider.Interaction.find(uid);
      if (!interaction) throw new errors.SessionNotFound('interaction session not found');
      if (interaction.prompt.name !== 'login') throw new errors.InvalidRequest('this sign-in is not at its login step');
      const clientId = String(interaction.params.client_id);
      const client = await provider.Client.find(clientId);
      const upstream = allowedFor(client).find((u) => u.config.id === req.params.id);
      if (!upstream) {
        const failure = new UpstreamFailure(upstreams.get(String(req.params.id)) ? 'not_allowed' : 'unknown_upstream', t('federation.error.not_allowed'), {
          upstreamId: String(req.params.id).slice(0, 40),
        });
        await failed(req, failure, { clientId });
        throw failure;
      }
      await begin(req, res, upstream, uid, clientId);
    },

    /** GET /upstream/:id/callback: the upstream's answer. */
    async callback(req: Request, res: Response): Promise<void> {
      const upstream = upstreams.get(String(req.params.id));
      if (!upstream) throw new UpstreamFailure('unknown_upstream', t('federation.error.unknown_upstream'));
      const at = { upstreamId: upstream.config.id };
      const state = stateOf(req);
      const pending = state ? await requests.claim(state, upstream.config.id) : undefined;
      if (!state || !pending) {
        const failure = new UpstreamFailure('bad_state', t('federation.error.unknown_state'), at);
        await failed(req, failure);
        throw failure;
      }
      try {
        if (typeof req.query.error === 'string') {
          const code = req.query.error.slice(0, 64).replace(/[^\w.-]/g, '');
          throw code === 'access_denied'
            ? new UpstreamFailure('access_denied', t('federation.error.access_denied', { upstream: upstream.config.name }), at)
            : new UpstreamFailure('upstream_error', `${upstream.config.name} refused the sign-in (${code})`, at);
        }
        const callbackUrl = new URL(req.originalUrl, deps.issuer);
        const answer = await exchange(upstream, callbackUrl, pending, state);
        const profile = profileOf(answer.claims);
        if (!profile) throw new UpstreamFailure('no_subject', `${upstream.config.name} did not say who you are`, at);
        const outcome = await decide(req, upstream, profile, answer.idToken, answer.amr);
        await requests.decide(state, outcome);
        res.redirect(303, `/interaction/${encodeURIComponent(pending.interaction_uid)}/upstream?state=${encodeURIComponent(state)}`);
      } catch (error) {
        await requests.remove(state);
        if (error instanceof UpstreamFailure) await failed(req, error);
        throw error;
      }
    },

    /** GET /interaction/:uid/upstream?state=: the interaction that started the sign-in takes its outcome. */
    async resume(req: Request, res: Response): Promise<void> {
      const { provider } = deps.runtime();
      const details = await provider.interactionDetails(req, res);
      const state = stateOf(req);
      const decided = state ? await requests.decided(state, details.uid) : undefined;
      const upstream = decided ? upstreams.get(decided.upstream_id) : undefined;
      if (!state || !decided || !upstream || details.prompt.name !== 'login') {
        const failure = new UpstreamFailure('bad_state', t('federation.error.other_sign_in'), { upstreamId: decided?.upstream_id });
        await failed(req, failure);
        throw failure;
      }
      const user = await users.findBySub(decided.outcome.sub);
      if (!user || user.disabled) {
        await requests.remove(state);
        const failure = new UpstreamFailure('disabled', t('login.error.disabled'), { upstreamId: upstream.config.id });
        await failed(req, failure, { accountId: decided.outcome.sub });
        throw failure;
      }
      if (decided.outcome.kind === 'link') {
        await linkPage(res, 200, { uid: details.uid, state, upstream, user });
        return;
      }
      await requests.remove(state);
      await finish(req, res, upstream, user, decided.outcome, String(details.params.client_id));
    },

    /** POST /interaction/:uid/upstream/link (CSRF-checked): the local account's password joins the upstream identity to it. */
    async link(req: Request, res: Response): Promise<void> {
      const { provider } = deps.runtime();
      const details = await provider.interactionDetails(req, res);
      const state = stateOf(req);
      const decided = state ? await requests.decided(state, details.uid) : undefined;
      const upstream = decided ? upstreams.get(decided.upstream_id) : undefined;
      if (!state || !decided || decided.outcome.kind !== 'link' || !upstream || details.prompt.name !== 'login') {
        const failure = new UpstreamFailure('bad_state', t('federation.error.other_sign_in'), { upstreamId: decided?.upstream_id });
        await failed(req, failure);
        throw failure;
      }
      const outcome = decided.outcome;
      const user = await users.findBySub(outcome.sub);
      const password = typeof (req.body as Record<string, unknown>).password === 'string' ? String((req.body as Record<string, unknown>).password) : '';
      const check = await checkPassword(user, password);
      const origin = { ...requestOrigin(req), clientId: String(details.params.client_id) };
      if (!user || !check.ok) {
        await audit.record({
          event: 'login.failure',
          ...origin,
          accountId: user?.sub,
          username: user?.username,
          details: { reason: 'bad_credentials', upstream: upstream.config.id },
        });
        if (!user || !(await requests.failedLinkAttempt(state))) {
          const failure = new UpstreamFailure('bad_state', t('federation.error.too_many_attempts'), { upstreamId: upstream.config.id });
          await failed(req, failure, { accountId: user?.sub });
          throw failure;
        }
        await linkPage(res, 401, { uid: details.uid, state, upstream, user, error: t('upstream_link.error.wrong_password') });
        return;
      }
      if (user.disabled) {
        await requests.remove(state);
        const failure = new UpstreamFailure('disabled', t('login.error.disabled'), { upstreamId: upstream.config.id });
        await failed(req, failure, { accountId: user.sub });
        throw failure;
      }
      await identities.link({ upstreamId: upstream.config.id, issuer: outcome.issuer, upstreamSub: outcome.upstreamSub, sub: user.sub });
      await audit.record({
        event: 'upstream.linked',
        ...origin,
        accountId: user.sub,
        username: user.username,
        details: { upstream: upstream.config.id, how: 'password' },
      });
      await requests.remove(state);
      await finish(req, res, upstream, user, outcome, origin.clientId);
    },
  };
}

export type FederatedSignIn = ReturnType<typeof createFederatedSignIn>;
