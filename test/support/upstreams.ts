import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import express from 'express';
import Provider from 'oidc-provider';
import * as jose from 'jose';

// Upstream identity providers for the federation tests, each on its own port of `localhost`
// (Gatehouse runs on 127.0.0.1: a browser keeps their cookies apart, as for two real sites).
// - a bare oidc-provider, the real thing: its interaction signs in `signInAs` at once, or shows
//   a one-button page for the browser test;
// - a hand-built OpenID Connect provider that misbehaves on purpose (an ID token with another
//   nonce, or signed by a key its JWKS does not have);
// - a GitHub-style OAuth 2.0 server (token endpoint, then a `/user` endpoint).

export const UPSTREAM_SECRET = 'upstream-client-secret-0123456789abcdef';

export interface UpstreamUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

async function listen(server: http.Server): Promise<string> {
  // All interfaces (dual stack): `localhost` may resolve to ::1 or 127.0.0.1.
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return `http://localhost:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server) {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface OidcUpstream {
  issuer: string;
  /** who the next sign-in at the upstream is */
  signInAs: UpstreamUser;
  /** false: the interaction shows a page with a "Continue" button (the browser test) */
  autoLogin: boolean;
  /** Serves the upstream for Gatehouse at `gatehouseIssuer`, registered as client `gatehouse` with the callbacks of upstream ids `ids`. */
  serve(gatehouseIssuer: string, ...ids: string[]): void;
  close(): Promise<void>;
}

/** A bare oidc-provider as the upstream. Listens at once; serves once serve() knows Gatehouse's issuer. */
export async function startOidcUpstream(): Promise<OidcUpstream> {
  const server = http.createServer();
  const issuer = await listen(server);
  const known = new Map<string, UpstreamUser>();
  // Until serve(): 503, as an upstream that is down at Gatehouse's start (discovery is retried on use).
  const notYet = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.statusCode = 503;
    res.end();
  };
  server.on('request', notYet);
  const upstream: OidcUpstream = {
    issuer,
    signInAs: { sub: 'upstream-user-1', email: 'first@upstream.test', email_verified: true, name: 'First Upstream', preferred_username: 'first' },
    autoLogin: true,
    serve(gatehouseIssuer, ...ids) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: 'gatehouse',
            client_secret: UPSTREAM_SECRET,
            redirect_uris: ids.map((id) => `${gatehouseIssuer}/upstream/${id}/callback`),
            post_logout_redirect_uris: ids.map((id) => `${gatehouseIssuer}/upstream/${id}/signed-out`),
          },
        ],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
        findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ ...(known.get(sub) ?? { sub }) }) }),
        features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        cookies: { keys: ['upstream-cookie-key-0123456789'] },
        // No consent step: the test user always agrees.
        loadExistingGrant: async (ctx) => {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope('openid email profile');
          await grant.save();
          return grant;
        },
      });
      const callback = provider.callback();
      const login = async (req: http.IncomingMessage, res: http.ServerResponse) => {
        const user = upstream.signInAs;
        known.set(user.sub, user);
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
      };
      server.off('request', notYet);
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', issuer);
        const interaction = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
        if (!interaction) {
          void callback(req, res);
          return;
        }
        void (async () => {
          if (req.method === 'POST' || upstream.autoLogin) {
            await login(req, res);
            return;
          }
          res.setHeader('content-type', 'text/html');
          res.end(
            `<!doctype html><title>Upstream sign-in</title><h1>Upstream Corp sign-in</h1><form method="post" action="/interaction/${interaction[1] ?? ''}/login"><button type="submit">Continue as ${upstream.signInAs.name ?? upstream.signInAs.sub}</button></form>`,
          );
        })().catch((error: unknown) => {
          res.statusCode = 500;
          res.end(String(error));
        });
      });
    },
    close: () => close(server),
  };
  return upstream;
}

/** A query parameter as a string ('' when absent or repeated). */
const q = (value: unknown): string => (typeof value === 'string' ? value : '');

export type MisbehaviourMode = 'wrong_nonce' | 'other_key';

/** An OpenID Connect provider that signs in anyone, and answers with a bad ID token per `mode`. */
export async function startMisbehavingOidc(mode: MisbehaviourMode): Promise<{ issuer: string; close(): Promise<void> }> {
  const app = express();
  const server = http.createServer(app);
  const issuer = await listen(server);
  const published = await jose.generateKeyPair('RS256', { extractable: true });
  const other = await jose.generateKeyPair('RS256');
  const jwk = { ...(await jose.exportJWK(published.publicKey)), kid: 'published', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { nonce: string; clientId: string }>();
  app.get('/.well-known/openid-configuration', (_req, res) => {
    res.json({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });
  app.get('/jwks', (_req, res) => res.json({ keys: [jwk] }));
  app.get('/authorize', (req, res) => {
    const code = randomUUID();
    codes.set(code, { nonce: q(req.query.nonce), clientId: q(req.query.client_id) });
    const back = new URL(q(req.query.redirect_uri));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q(req.query.state));
    res.redirect(back.href);
  });
  app.post('/token', express.urlencoded({ extended: false }), async (req, res) => {
    const issued = codes.get(String((req.body as Record<string, string>).code));
    if (!issued) {
      res.status(400).json({ error: 'invalid_grant' });
      return;
    }
    const idToken = await new jose.SignJWT({ nonce: mode === 'wrong_nonce' ? 'not-the-nonce-gatehouse-sent' : issued.nonce, email: 'mallory@upstream.test' })
      .setProtectedHeader({ alg: 'RS256', kid: 'published' })
      .setIssuer(issuer)
      .setSubject('mallory')
      .setAudience(issued.clientId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(mode === 'other_key' ? other.privateKey : published.privateKey);
    res.json({ access_token: randomUUID(), token_type: 'Bearer', expires_in: 300, id_token: idToken });
  });
  return { issuer, close: () => close(server) };
}

export interface OAuth2Upstream {
  base: string;
  signInAs: { id: number; login: string; email: string | null; name: string | null };
  close(): Promise<void>;
}

/** A GitHub-style OAuth 2.0 server: /login/oauth/authorize, /login/oauth/access_token, /user. */
export async function startOAuth2Upstream(): Promise<OAuth2Upstream> {
  const app = express();
  const server = http.createServer(app);
  const base = await listen(server);
  const codes = new Map<string, OAuth2Upstream['signInAs']>();
  const tokens = new Map<string, OAuth2Upstream['signInAs']>();
  const upstream: OAuth2Upstream = {
    base,
    signInAs: { id: 583231, login: 'octocat', email: 'octocat@github.test', name: 'The Octocat' },
    close: () => close(server),
  };
  app.get('/login/oauth/authorize', (req, res) => {
    const code = randomUUID();
    codes.set(code, upstream.signInAs);
    const back = new URL(q(req.query.redirect_uri));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q(req.query.state));
    res.redirect(back.href);
  });
  app.post('/login/oauth/access_token', express.urlencoded({ extended: false }), (req, res) => {
    const user = codes.get(String((req.body as Record<string, string>).code));
    codes.delete(String((req.body as Record<string, string>).code));
    if (!user || !req.headers.authorization?.startsWith('Basic ')) {
      res.status(400).json({ error: 'bad_verification_code' });
      return;
    }
    const token = randomUUID();
    tokens.set(token, user);
    res.json({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
  });
  app.get('/user', (req, res) => {
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (!user) {
      res.status(401).json({ message: 'Bad credentials' });
      return;
    }
    res.json(user);
  });
  return upstream;
}
