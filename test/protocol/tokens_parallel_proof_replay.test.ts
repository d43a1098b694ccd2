import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { SECRETS, testConfig } from '../support/fixtures.js';
import { basicAuth, endpoints } from '../support/oauth_requests.js';

// One client assertion (client_secret_jwt) or one DPoP proof sent in several token requests at
// once: the library's replay check reads, then saves, so every copy used to pass the read
// before any save landed and more than one was served. Exactly one may win now.

const COPIES = 5;
const JWT_SECRET = 'jwt-client-secret-0123456789abcdef0123456789';

let gh: RunningGatehouse;
let tokenEndpoint: string;

beforeAll(async () => {
  const base = testConfig();
  gh = await startGatehouse({
    config: {
      ...base,
      clients: [
        ...base.clients,
        {
          ...base.clients.find((c) => c.client_id === 'service')!,
          client_id: 'signed-service',
          client_secret: JWT_SECRET,
          token_endpoint_auth_method: 'client_secret_jwt',
        },
      ],
    },
  });
  tokenEndpoint = (await endpoints(gh.issuer)).token;
});
afterAll(() => gh?.close());

async function post(form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('a proof raced in parallel', () => {
  it('serves one client_secret_jwt assertion once however many requests carry it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('signed-service')
      .setSubject('signed-service')
      .setAudience(gh.issuer)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const form = {
      grant_type: 'client_credentials',
      scope: 'things:read',
      client_id: 'signed-service',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    };
    const results = await Promise.all(Array.from({ length: COPIES }, () => post(form)));
    expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(COPIES - 1).fill(401)]);
    for (const lost of results.filter((r) => r.status !== 200)) expect(lost.body.error).toBe('invalid_client');
    // Sent again afterwards, it is still refused.
    expect((await post(form)).body.error).toBe('invalid_client');
  });

  // The same race without HTTP timing in the way: every check reads before any save lands.
  it("answers 'first use' to exactly one of several simultaneous checks of one proof", async () => {
    const replay = gh.provider.ReplayDetection;
    const jti = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + 60;
    const answers = await Promise.all(Array.from({ length: COPIES }, () => replay.unique('signed-service', jti, exp)));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await replay.unique('signed-service', jti, exp)).toBe(false);
    // Another proof is its own first use.
    expect(await replay.unique('signed-service', randomUUID(), exp)).toBe(true);
  });

  it('serves one DPoP proof once however many token requests carry it', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: tokenEndpoint })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setJti(randomUUID())
      .setIssuedAt()
      .sign(privateKey);
    const form = { grant_type: 'client_credentials', scope: 'things:read' };
    const headers = { authorization: basicAuth({ clientId: 'service', secret: SECRETS.service }), dpop: proof };
    const results = await Promise.all(Array.from({ length: COPIES }, () => post(form, headers)));
    expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(COPIES - 1).fill(400)]);
    expect(results.find((r) => r.status === 200)!.body.token_type).toBe('DPoP');
    // The library's answer to a replayed proof at the token endpoint, as for one sent again later.
    for (const lost of results.filter((r) => r.status !== 200)) expect(lost.body.error).toBe('invalid_grant');
    expect((await post(form, headers)).body.error).toBe('invalid_grant');
  });
});
