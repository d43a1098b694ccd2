#!/usr/bin/env node
// A small relying party for the `sample-web` client of examples/gatehouse.config.json:
// authorization code flow with PKCE (openid-client v6), the signed-in user's claims, RP-initiated
// logout and back-channel logout. Plain JavaScript so it runs as is: `node examples/sample_rp.mjs`.
//
//   ISSUER         Gatehouse's issuer             (default http://localhost:3000)
//   PORT           where this app listens         (default 3001)
//   CLIENT_ID      the client registered for it   (default sample-web)
//   CLIENT_SECRET  its secret                     (default: the one in examples/gatehouse.config.json)
//   SCOPE          what to ask for                (default "openid profile email"; add things:read
//                  to get a Things API access token instead of one for userinfo)
//
// Sessions live in memory, keyed by a random cookie: enough for a demonstration, not for
// production.
import { randomBytes } from 'node:crypto';
import express from 'express';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

const ISSUER = process.env.ISSUER ?? 'http://localhost:3000';
const PORT = Number(process.env.PORT ?? 3001);
const BASE = process.env.BASE_URL ?? `http://localhost:${PORT}`;
const CLIENT_ID = process.env.CLIENT_ID ?? 'sample-web';
const CLIENT_SECRET = process.env.CLIENT_SECRET ?? 'sample-web-secret-change-me-0123456789';
const SCOPE = process.env.SCOPE ?? 'openid profile email';
const COOKIE = 'sample_rp_sid';

/** @type {Promise<oidc.Configuration> | undefined} */
let discovered;
/** Discovers Gatehouse on first use (and again after a failure), so start order does not matter. */
function config() {
  discovered ??= oidc
    .discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, oidc.ClientSecretBasic(CLIENT_SECRET), {
      // Plain http is for a local demonstration only.
      execute: ISSUER.startsWith('http://') ? [oidc.allowInsecureRequests] : [],
    })
    .catch((error) => {
      discovered = undefined;
      throw new Error(`cannot reach Gatehouse at ${ISSUER}: ${error.message}`, { cause: error });
    });
  return discovered;
}

// session id → { pending?: { state, nonce, codeVerifier }, user?: { claims, userinfo, idToken, sid } }
const sessions = new Map();

function session(req, res) {
  const id = /(?:^|;\s*)sample_rp_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (id && sessions.has(id)) return sessions.get(id);
  const fresh = {};
  const newId = randomBytes(18).toString('base64url');
  sessions.set(newId, fresh);
  res.cookie(COOKIE, newId, { httpOnly: true, sameSite: 'lax', path: '/' });
  return fresh;
}

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (value) => `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;
const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · Sample RP</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.75rem;overflow:auto}</style>
</head><body><h1>${escape(title)}</h1>${body}</body></html>`;

/**
 * What to call the signed-in user: their name, else given name, else sign-in name, else
 * e-mail address, from userinfo or the ID token; the subject identifier (an opaque id nobody
 * recognises) only when Gatehouse released none of them (no `profile` or `email` scope).
 */
function displayName(user) {
  const sources = [user.userinfo ?? {}, user.claims];
  for (const claim of ['name', 'given_name', 'preferred_username', 'email']) {
    for (const source of sources) if (typeof source[claim] === 'string' && source[claim].trim()) return source[claim].trim();
  }
  return user.claims.sub;
}

const app = express();
app.disable('x-powered-by');

app.get('/', (req, res) => {
  const { user } = session(req, res);
  if (!user) {
    res.send(
      page('Sample relying party', `<p>You are not signed in.</p><p><a href="/login">Sign in</a> with Gatehouse at <code>${escape(ISSUER)}</code>.</p>`),
    );
    return;
  }
  res.send(
    page(
      `Hello, ${displayName(user)}`,
      `<p>You are signed in (subject <code>${escape(user.claims.sub)}</code>). <a href="/logout">Sign out</a></p>` +
        `<p>Granted scope: <code>${escape(user.scope ?? '')}</code></p>` +
        `<h2>ID token claims</h2>${json(user.claims)}<h2>Userinfo</h2>${json(user.userinfo)}` +
        (user.accessToken ? `<h2>Access token claims (JWT, RFC 9068)</h2>${json(user.accessToken)}` : ''),
    ),
  );
});

app.get('/login', async (req, res, next) => {
  try {
    const s = session(req, res);
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
    s.pending = pending;
    const url = oidc.buildAuthorizationUrl(await config(), {
      redirect_uri: `${BASE}/callback`,
      scope: SCOPE,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    res.redirect(url.href);
  } catch (error) {
    next(error);
  }
});

app.get('/callback', async (req, res, next) => {
  try {
    const s = session(req, res);
    const pending = s.pending;
    if (req.query.error) {
      res.status(400).send(page('Sign-in did not complete', `${json(req.query)}<p><a href="/">Back</a></p>`));
      return;
    }
    if (!pending) {
      res.status(400).send(page('No sign-in in progress', '<p><a href="/login">Sign in again</a></p>'));
      return;
    }
    delete s.pending;
    const cfg = await config();
    const tokens = await oidc.authorizationCodeGrant(cfg, new URL(req.originalUrl, BASE), {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    const claims = tokens.claims();
    // An access token has one audience: userinfo, or (when an API scope was asked for) that
    // API, whose JWT access token the userinfo endpoint refuses.
    const accessToken = tokens.access_token.split('.').length === 3 ? decodeJwt(tokens.access_token) : undefined;
    const userinfo = accessToken?.aud
      ? { note: `not fetched: the access token is for the API ${accessToken.aud}` }
      : await oidc.fetchUserInfo(cfg, tokens.access_token, claims.sub);
    s.user = { claims, userinfo, accessToken, scope: tokens.scope, idToken: tokens.id_token, sid: claims.sid };
    console.log(`signed in: sub=${claims.sub} sid=${claims.sid}`);
    res.redirect('/');
  } catch (error) {
    next(error);
  }
});

app.get('/logout', async (req, res, next) => {
  try {
    const s = session(req, res);
    const idToken = s.user?.idToken;
    delete s.user;
    if (!idToken) {
      res.redirect('/');
      return;
    }
    res.redirect(oidc.buildEndSessionUrl(await config(), { id_token_hint: idToken, post_logout_redirect_uri: `${BASE}/` }).href);
  } catch (error) {
    next(error);
  }
});

// OpenID Connect Back-Channel Logout 1.0: Gatehouse POSTs a signed logout token when the user
// signs out anywhere; end the local sessions it names.
app.post('/backchannel-logout', express.urlencoded({ extended: false }), async (req, res) => {
  res.set('cache-control', 'no-store');
  try {
    const cfg = await config();
    const meta = cfg.serverMetadata();
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
    const { payload } = await jwtVerify(String(req.body?.logout_token ?? ''), jwks, {
      issuer: meta.issuer,
      audience: CLIENT_ID,
      typ: 'logout+jwt',
      maxTokenAge: '2 minutes',
    });
    if (!payload.events?.['http://schemas.openid.net/event/backchannel-logout'] || payload.nonce !== undefined) {
      throw new Error('not a logout token');
    }
    let ended = 0;
    for (const s of sessions.values()) {
      if (s.user && (payload.sid ? s.user.sid === payload.sid : s.user.claims.sub === payload.sub)) {
        delete s.user;
        ended++;
      }
    }
    console.log(`back-channel logout: sub=${payload.sub} sid=${payload.sid} ended ${ended} session(s)`);
    res.status(200).end();
  } catch (error) {
    console.log(`back-channel logout refused: ${error.message}`);
    res.status(400).json({ error: 'invalid_request' });
  }
});

app.use((error, _req, res, _next) => {
  console.error(error);
  res.status(500).send(page('Something went wrong', `<p>${escape(error.message)}</p><p><a href="/">Back</a></p>`));
});

app.listen(PORT, () => {
  console.log(`sample relying party on ${BASE} (client ${CLIENT_ID}, issuer ${ISSUER})`);
});
