import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { API, OPAQUE_API, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { signIn, oidc } from '../support/relying_party.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { endpoints, introspect, tokenRequest } from '../support/oauth_requests.js';
import { setUserClaims } from '../support/user_claims.js';

// An API's `user_claims`: the user's roles and other claims in the API's access tokens (the JWT
// body, or the introspection answer of an opaque token), as they are when each token is issued;
// none in a client's own (client_credentials) token; and the consent page saying in words what
// the API will learn.

const REPORTS_API = 'https://reports.example.test';

function config() {
  const base = testConfig();
  return gatehouseConfigSchema.parse({
    clients: base.clients.map((c) => (c.client_id === 'web' ? { ...c, scope: `${c.scope ?? ''} reports:read` } : c)),
    apis: [
      ...base.apis.map((api) => ({ ...api, user_claims: api.identifier === API ? ['roles', 'department', 'email'] : ['roles'] })),
      // A name with markup: the consent page must show it as text.
      { identifier: REPORTS_API, name: 'R&D <b>Reports</b>', scopes: ['reports:read'], user_claims: ['employee_number'] },
    ],
  });
}

const admin = buildUser();
const reader = buildUser();
const web = { clientId: 'web', secret: SECRETS.web };
const service = { clientId: 'service', secret: SECRETS.service };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };

let gh: RunningGatehouse;
let rp: oidc.Configuration;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([admin, reader], { config: config() }));
  await setUserClaims(gh.testDb.db, admin.username, { roles: ['admin', 'reader'], department: 'Research', shoe_size: 44 });
  await setUserClaims(gh.testDb.db, reader.username, { roles: ['reader'] });
  rp = await rpFor(gh, 'web');
  jwks = createRemoteJWKSet(new URL((await endpoints(gh.issuer)).jwks));
});
afterAll(() => gh?.close());

async function verifyApiToken(token: string, audience = API): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, jwks, { issuer: gh.issuer, audience, typ: 'at+jwt' });
  return payload;
}

describe('user claims in an API access token', () => {
  it('a JWT for the API carries the user claims it lists, and no others', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid things:read', credentials: credentialsOf(admin), consent: 'allow' });
    const payload = await verifyApiToken(tokens.access_token);
    expect(payload).toMatchObject({ client_id: 'web', scope: 'things:read', roles: ['admin', 'reader'], department: 'Research', email: admin.email });
    // Only what the API lists: not the user's other claims, nor the profile the scopes did not ask for.
    expect(payload).not.toHaveProperty('shoe_size');
    expect(payload).not.toHaveProperty('name');
  });

  it('leaves out a claim the user does not have', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid things:read', credentials: credentialsOf(reader), consent: 'allow' });
    const payload = await verifyApiToken(tokens.access_token);
    expect(payload.roles).toEqual(['reader']);
    expect(payload).not.toHaveProperty('department');
    expect(payload.email).toBe(reader.email);
  });

  it('an opaque token for the API answers introspection with them', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid notes:read', credentials: credentialsOf(admin), consent: 'allow' });
    expect(tokens.access_token.split('.')).toHaveLength(1);
    // The API itself (registered for notes:read) asks, and so may the client that holds the token.
    for (const who of [introspector, web]) {
      const { status, body } = await introspect(gh.issuer, who, tokens.access_token);
      expect(status).toBe(200);
      expect(body).toMatchObject({ active: true, aud: OPAQUE_API, scope: 'notes:read', roles: ['admin', 'reader'] });
      expect(body).not.toHaveProperty('department');
    }
  });

  it('a userinfo token (OpenID scopes only) carries none: it is for no API', async () => {
    const { tokens } = await signIn(rp, { scope: 'openid profile', credentials: credentialsOf(admin), consent: 'allow' });
    const { body } = await introspect(gh.issuer, web, tokens.access_token);
    expect(body).toMatchObject({ active: true, scope: 'openid profile' });
    expect(body).not.toHaveProperty('roles');
  });

  it('a client_credentials token carries none: it has no user', async () => {
    const jwt = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(jwt.status).toBe(200);
    const payload = await verifyApiToken(jwt.body.access_token as string);
    expect(payload).toMatchObject({ sub: 'service', client_id: 'service', scope: 'things:read' });
    for (const claim of ['roles', 'department', 'email']) expect(payload).not.toHaveProperty(claim);

    const opaque = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'notes:read' });
    const { body } = await introspect(gh.issuer, introspector, opaque.body.access_token as string);
    expect(body).toMatchObject({ active: true, client_id: 'service', aud: OPAQUE_API });
    expect(body).not.toHaveProperty('roles');
  });

  it('a refresh gives the values of the moment: a role removed is gone from the next token', async () => {
    const user = buildUser();
    await gh.createUser(user);
    await setUserClaims(gh.testDb.db, user.username, { roles: ['admin', 'reader'], department: 'Sales' });
    const { tokens } = await signIn(rp, {
      scope: 'openid offline_access things:read',
      params: { prompt: 'consent' },
      credentials: credentialsOf(user),
      consent: 'allow',
    });
    expect((await verifyApiToken(tokens.access_token)).roles).toEqual(['admin', 'reader']);

    await setUserClaims(gh.testDb.db, user.username, { roles: ['reader'] });
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    const payload = await verifyApiToken(refreshed.body.access_token as string);
    expect(payload.roles).toEqual(['reader']);
    expect(payload).not.toHaveProperty('department');

    // And a role given back shows in the one after.
    await setUserClaims(gh.testDb.db, user.username, { roles: ['reader', 'admin'] });
    const again = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token as string });
    expect((await verifyApiToken(again.body.access_token as string)).roles).toEqual(['reader', 'admin']);
  });
});

describe('a reloaded config', () => {
  it('changes which claims the next token carries, without a restart', async () => {
    const served = config();
    const fewer = gatehouseConfigSchema.parse({
      ...served,
      apis: served.apis.map((api) => (api.identifier === API ? { ...api, user_claims: ['department'] } : api)),
    });
    await gh.gatehouse.applyConfig(fewer);
    try {
      const { tokens } = await signIn(rp, { scope: 'openid things:read', credentials: credentialsOf(admin), consent: 'allow' });
      const payload = await verifyApiToken(tokens.access_token);
      expect(payload.department).toBe('Research');
      expect(payload).not.toHaveProperty('roles');
      expect(payload).not.toHaveProperty('email');
    } finally {
      await gh.gatehouse.applyConfig(served);
    }
  });
});

describe('consent for an API with user claims', () => {
  it('says in words what each API will learn about the user, as text', async () => {
    const user = buildUser();
    await gh.createUser(user);
    const started = await startAuthorization(rp, { scope: 'openid things:read notes:read reports:read' });
    const login = expectPage(started.landing);
    const page = expectPage(await started.ua.submit(login, LOGIN_FORM, credentialsOf(user), RP));
    expect(pageKind(page)).toBe('consent');
    const text = visibleText(page);
    expect(text).toContain('Things API will receive your roles, department and email address');
    expect(text).toContain('Notes API will receive your roles');
    expect(text).toContain('R&D <b>Reports</b> will receive your employee number');
    // Escaped: the API's name is not markup on the page.
    expect(page.$('.receives b')).toHaveLength(0);
    expect(page.body).toContain('R&amp;D &lt;b&gt;Reports&lt;/b&gt; will receive your employee number');
    expect(page.$(CONSENT_FORM)).toHaveLength(1);
  });

  it('says nothing of the kind for an API without user claims', async () => {
    const user = buildUser();
    const other = await startGatehouseWithUsers([user]);
    try {
      const started = await startAuthorization(await rpFor(other.gh, 'web'), { scope: 'openid things:read' });
      const page = expectPage(await started.ua.submit(expectPage(started.landing), LOGIN_FORM, credentialsOf(user), RP));
      expect(pageKind(page)).toBe('consent');
      expect(visibleText(page)).toContain('Things API');
      expect(visibleText(page)).not.toContain('will receive');
    } finally {
      await other.gh.close();
    }
  });
});
