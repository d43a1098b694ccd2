import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { auth, claimIncludes, InvalidTokenError, UnauthorizedError } from 'express-oauth2-jwt-bearer';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { API, OPAQUE_API, SECRETS, testConfig } from '../support/fixtures.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { signIn, oidc } from '../support/relying_party.js';
import { endpoints, tokenRequest } from '../support/oauth_requests.js';
import { setUserClaims } from '../support/user_claims.js';

// Two APIs as their authors would write them (README "Protecting an API"), authorizing by the
// user's role with real Gatehouse tokens over HTTP: a JWT API with Auth0's
// express-oauth2-jwt-bearer (`claimIncludes('roles', 'admin')`), and an opaque-token API that
// asks Gatehouse's introspection endpoint with its own client credentials.

/** The JWT API: the signature, issuer, audience and expiry checked by auth(), then the role. */
function jwtApi(issuer: string): express.Express {
  const app = express();
  app.get('/things', auth({ issuerBaseURL: issuer, audience: API }), claimIncludes('roles', 'admin'), (req, res) => {
    res.json({ things: [], for: req.auth?.payload.sub });
  });
  // claimIncludes refuses a token without the role as invalid_token (401); but the token is
  // valid (auth() set req.auth), it just does not allow this: 403, per RFC 6750 3.1.
  const errors: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (!(err instanceof UnauthorizedError)) {
      next(err);
      return;
    }
    const forbidden = req.auth !== undefined && err instanceof InvalidTokenError;
    res
      .status(forbidden ? 403 : err.status)
      .set(forbidden ? {} : err.headers)
      .json({ error: forbidden ? 'insufficient_scope' : ((err as { code?: string }).code ?? 'invalid_request'), error_description: err.message });
  };
  app.use(errors);
  return app;
}

/** The opaque-token API: Gatehouse says whether the token is live, for this API, and whose roles. */
function introspectingApi(introspectionEndpoint: string, client: { id: string; secret: string }): express.Express {
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  const requireRole =
    (role: string): RequestHandler =>
    async (req, res, next) => {
      const token = /^Bearer ([^\s]+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (!token) return void res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'invalid_token' });
      const answer = await fetch(introspectionEndpoint, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token }),
      });
      // 400 is a token Gatehouse will not introspect (a JWT: unsupported_token_type): not ours.
      if (answer.status !== 200 && answer.status !== 400) return void res.status(503).json({ error: 'temporarily_unavailable' });
      const info = answer.ok ? ((await answer.json()) as { active: boolean; aud?: string | string[]; roles?: unknown }) : { active: false };
      const audiences = [info.aud ?? []].flat();
      if (!info.active || !audiences.includes(OPAQUE_API)) {
        return void res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').json({ error: 'invalid_token' });
      }
      if (!Array.isArray(info.roles) || !info.roles.includes(role)) return void res.status(403).json({ error: 'insufficient_scope' });
      res.locals.token = info;
      next();
    };
  const app = express();
  app.get('/notes', requireRole('admin'), (_req, res) => {
    res.json({ notes: [] });
  });
  return app;
}

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const admin = buildUser();
const reader = buildUser();

let gh: RunningGatehouse;
let rp: oidc.Configuration;
let things: Awaited<ReturnType<typeof listen>>;
let notes: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  const base = testConfig();
  const config = gatehouseConfigSchema.parse({ ...base, apis: base.apis.map((api) => ({ ...api, user_claims: ['roles'] })) });
  ({ gh } = await startGatehouseWithUsers([admin, reader], { config }));
  await setUserClaims(gh.testDb.db, admin.username, { roles: ['reader', 'admin'] });
  await setUserClaims(gh.testDb.db, reader.username, { roles: ['reader'] });
  rp = await rpFor(gh, 'web');
  things = await listen(jwtApi(gh.issuer));
  notes = await listen(introspectingApi((await endpoints(gh.issuer)).introspection, { id: 'introspector', secret: SECRETS.introspector }));
});
afterAll(async () => {
  await things?.close();
  await notes?.close();
  await gh?.close();
});

async function accessTokenOf(user: typeof admin, scope: string): Promise<string> {
  const { tokens } = await signIn(rp, { scope: `openid ${scope}`, credentials: credentialsOf(user), consent: 'allow' });
  return tokens.access_token;
}

async function call(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; challenge: string | null }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, challenge: res.headers.get('www-authenticate') };
}

describe('an Express API authorizing by role with express-oauth2-jwt-bearer', () => {
  it('answers 200 to an admin and 403 to a user without the role', async () => {
    const ok = await call(`${things.url}/things`, await accessTokenOf(admin, 'things:read'));
    expect(ok.status).toBe(200);
    expect(ok.body.for).toBeTypeOf('string');

    const forbidden = await call(`${things.url}/things`, await accessTokenOf(reader, 'things:read'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: 'insufficient_scope', error_description: "Unexpected 'roles' value" });
  });

  it('answers 403 to a client_credentials token (no user, so no roles) and 401 without a valid token', async () => {
    const service = await tokenRequest(gh.issuer, { clientId: 'service', secret: SECRETS.service }, { grant_type: 'client_credentials', scope: 'things:read' });
    const noUser = await call(`${things.url}/things`, service.body.access_token as string);
    expect(noUser.status).toBe(403);
    expect(noUser.body.error_description).toBe("Missing 'roles' claim");

    const none = await call(`${things.url}/things`);
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer/);

    // A token for another API (the opaque one) is no token for this one.
    const other = await call(`${things.url}/things`, await accessTokenOf(admin, 'notes:read'));
    expect(other.status).toBe(401);
    expect(other.challenge).toContain('invalid_token');
  });

  it('sees a role removed in the next token, not in the one already issued', async () => {
    const user = buildUser();
    await gh.createUser(user);
    await setUserClaims(gh.testDb.db, user.username, { roles: ['admin'] });
    const before = await accessTokenOf(user, 'things:read');
    await setUserClaims(gh.testDb.db, user.username, { roles: [] });
    // A JWT says what was true when it was issued, until it expires.
    expect((await call(`${things.url}/things`, before)).status).toBe(200);
    expect((await call(`${things.url}/things`, await accessTokenOf(user, 'things:read'))).status).toBe(403);
  });
});

describe('an opaque-token API authorizing by role through introspection', () => {
  it('answers 200 to an admin and 403 to a user without the role', async () => {
    expect((await call(`${notes.url}/notes`, await accessTokenOf(admin, 'notes:read'))).status).toBe(200);
    const forbidden = await call(`${notes.url}/notes`, await accessTokenOf(reader, 'notes:read'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('insufficient_scope');
  });

  it('answers 401 to a revoked token and to another API’s token', async () => {
    const token = await accessTokenOf(admin, 'notes:read');
    expect((await call(`${notes.url}/notes`, token)).status).toBe(200);
    const revoked = await fetch((await endpoints(gh.issuer)).revocation, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    expect((await call(`${notes.url}/notes`, token)).status).toBe(401);

    // A JWT for the Things API cannot be introspected at all: not a Notes API token.
    expect((await call(`${notes.url}/notes`, await accessTokenOf(admin, 'things:read'))).status).toBe(401);
  });
});
