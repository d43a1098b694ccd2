import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { API, OPAQUE_API, SECRETS, testConfig } from '../support/fixtures.js';
import { endpoints, introspect, tokenRequest } from '../support/oauth_requests.js';

// The client_credentials grant: which API a scope's token is for, its format and lifetime, and
// what the client is refused.

const ES_API = 'https://es.example.test';
const service = { clientId: 'service', secret: SECRETS.service };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };

/** The usual fixtures plus an API that signs its tokens with ES256. */
function configWithEs256Api() {
  const base = testConfig();
  return gatehouseConfigSchema.parse({
    clients: base.clients.map((c) => (c.client_id === 'service' ? { ...c, scope: `${c.scope!} gauges:read` } : c)),
    apis: [
      ...base.apis,
      { identifier: ES_API, name: 'Gauges API', scopes: ['gauges:read'], access_token_format: 'jwt', access_token_ttl: 120, signing_alg: 'ES256' },
    ],
  });
}

let gh: RunningGatehouse;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  gh = await startGatehouse({ config: configWithEs256Api() });
  jwks = createRemoteJWKSet(new URL((await endpoints(gh.issuer)).jwks));
});
afterAll(() => gh?.close());

describe('client_credentials', () => {
  it('issues an RFC 9068 JWT for the API that owns the requested scope', async () => {
    const res = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'things:read', expires_in: 600 });
    const token = res.body.access_token as string;

    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.aud).toBe(API);
    expect(payload.scope).toBe('things:read');
    expect(payload.client_id).toBe('service');
    expect(payload.sub).toBe('service'); // no resource owner: the client itself (RFC 9068 2.2)
    expect(payload.jti).toBeTypeOf('string');
    expect(payload.iat).toBeTypeOf('number');
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('signs with ES256 for an API configured with signing_alg ES256', async () => {
    const res = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'gauges:read' });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, jwks, { issuer: gh.issuer, audience: ES_API, typ: 'at+jwt', algorithms: ['ES256'] });
    expect(payload.scope).toBe('gauges:read');
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('issues an opaque token with the API lifetime for an opaque API', async () => {
    const res = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'notes:read' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'notes:read', expires_in: 300 });
    const token = res.body.access_token as string;
    expect(token.split('.')).toHaveLength(1); // not a JWS
    const info = await introspect(gh.issuer, service, token);
    expect(info.body).toMatchObject({ active: true, client_id: 'service', scope: 'notes:read', aud: OPAQUE_API });
    expect((info.body.exp as number) - (info.body.iat as number)).toBe(300);
  });

  it('accepts an explicit resource for a known API', async () => {
    const res = await tokenRequest(gh.issuer, service, { grant_type: 'client_credentials', scope: 'things:write', resource: API });
    expect(res.status).toBe(200);
    const { payload } = await jwtVerify(res.body.access_token as string, jwks, { issuer: gh.issuer, audience: API, typ: 'at+jwt' });
    expect(payload.scope).toBe('things:write');
  });

  it('refuses an unknown resource with invalid_target', async () => {
    const res = await tokenRequest(gh.issuer, service, {
      grant_type: 'client_credentials',
      scope: 'things:read',
      resource: 'https://unknown.example.test',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
    expect(res.body.access_token).toBeUndefined();
  });

  it('does not grant an API scope the client is not registered for', async () => {
    // introspector is registered for notes:read only: the API owning things:read is refused.
    const res = await tokenRequest(gh.issuer, introspector, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
    expect(res.body.access_token).toBeUndefined();

    // Asked alongside a scope it may have, the foreign scope is refused by name.
    const mixed = await tokenRequest(gh.issuer, introspector, { grant_type: 'client_credentials', scope: 'notes:read things:read', resource: OPAQUE_API });
    expect(mixed.status).toBe(400);
    expect(mixed.body).toMatchObject({ error: 'invalid_scope', scope: 'things:read' });
    expect(mixed.body.access_token).toBeUndefined();
  });

  it('answers a wrong secret with 401 invalid_client', async () => {
    const res = await tokenRequest(gh.issuer, { clientId: 'service', secret: 'not-the-secret' }, { grant_type: 'client_credentials', scope: 'things:read' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.body.access_token).toBeUndefined();
  });
});
