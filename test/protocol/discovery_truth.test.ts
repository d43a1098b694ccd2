import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { loadEnv } from '../../src/config/env.js';
import { formatIssues, formatProblem } from '../../src/config/format_issues.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { clientProblems, createValidationProvider } from '../../src/provider/validate_clients.js';
import { startGatehouse } from '../support/start_gatehouse.js';
import { FIXED_PKCE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { basicAuth } from '../support/oauth_requests.js';
import { UserAgent, isPage } from '../support/user_agent.js';

// Discovery tells the truth: everything /.well-known/openid-configuration advertises is
// something a client can have. Each advertised value becomes its own test, built from the
// document itself, so a capability the library (or a later change) starts advertising is
// checked here the day it appears: a client entry using it must pass `config check` (the schema
// and oidc-provider's own client validation), and where a request can show it works, it must.
// A grant type the config file cannot list fails as "grant type <name>" alone. A discovery
// member nothing here checks fails the last test, so a new one cannot slip by unexamined.

const first = await startGatehouse();
const discovery = (await (await fetch(`${first.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
await first.close();

const list = (key: string): string[] => (Array.isArray(discovery[key]) ? (discovery[key] as string[]) : []);
const env = loadEnv({ ISSUER: 'http://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
const SECRET = 'discovery-truth-secret-0123456789abcdef0123';

type ClientEntry = Record<string, unknown> & { client_id: string };

/** The problems `gatehouse config check` would print for the suite's config plus `client`. */
async function problemsOf(client: ClientEntry): Promise<string[]> {
  const base = testConfig();
  const parsed = gatehouseConfigSchema.safeParse({ ...base, clients: [client] });
  if (!parsed.success) return formatIssues(parsed.error);
  return (await clientProblems(await createValidationProvider(env, parsed.data), parsed.data.clients)).map(formatProblem);
}

const webClient = (clientId: string, extra: Record<string, unknown> = {}): ClientEntry => ({
  client_id: clientId,
  client_secret: SECRET,
  redirect_uris: [`${RP}/${clientId}/callback`],
  grant_types: ['authorization_code'],
  scope: 'openid profile',
  ...extra,
});

// ---- token endpoint authentication: each method, and each assertion algorithm ----

type Signer = { alg: string; key: CryptoKey | Uint8Array; jwk?: Record<string, unknown> };

async function signerFor(alg: string): Promise<Signer> {
  if (alg.startsWith('HS')) return { alg, key: new TextEncoder().encode(SECRET) };
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `${alg}-key`, use: 'sig' } };
}

/** The client entry a method needs, or undefined when this test knows no way to register it. */
function clientForMethod(method: string, signer: Signer): ClientEntry | undefined {
  const id = `auth-${method}`;
  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post':
    case 'client_secret_jwt':
      return webClient(id, { token_endpoint_auth_method: method });
    case 'private_key_jwt':
      return webClient(id, { token_endpoint_auth_method: method, client_secret: undefined, jwks: { keys: [signer.jwk] } });
    case 'none':
      return webClient(id, { token_endpoint_auth_method: method, client_secret: undefined });
    default:
      return undefined;
  }
}

async function assertion(clientId: string, signer: Signer, audience: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: signer.alg, ...(signer.jwk ? { kid: signer.jwk.kid as string } : {}) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(signer.key);
}

/** How a client of each method authenticates a token request: headers and form fields. */
async function authenticate(
  method: string,
  clientId: string,
  signer: Signer,
  tokenEndpoint: string,
): Promise<{ headers: Record<string, string>; form: Record<string, string> }> {
  switch (method) {
    case 'client_secret_basic':
      return { headers: { authorization: basicAuth({ clientId, secret: SECRET }) }, form: {} };
    case 'client_secret_post':
      return { headers: {}, form: { client_id: clientId, client_secret: SECRET } };
    case 'client_secret_jwt':
    case 'private_key_jwt':
      return {
        headers: {},
        form: {
          client_id: clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(clientId, signer, tokenEndpoint),
        },
      };
    default:
      return { headers: {}, form: { client_id: clientId } };
  }
}

const PKJWT_DEFAULT_ALG = 'ES256';
const signers = new Map<string, Signer>();
for (const alg of new Set([...list('token_endpoint_auth_signing_alg_values_supported'), PKJWT_DEFAULT_ALG, 'HS256'])) signers.set(alg, await signerFor(alg));
const methodSigner = (method: string) => signers.get(method === 'client_secret_jwt' ? 'HS256' : PKJWT_DEFAULT_ALG)!;
const algClient = (alg: string): ClientEntry => {
  const signer = signers.get(alg)!;
  const method = alg.startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt';
  return { ...clientForMethod(method, signer)!, client_id: `alg-${alg}`, token_endpoint_auth_signing_alg: alg };
};

// The second server has every client the document's methods and algorithms call for, as far as
// the config accepts them (the ones refused fail their own test below).
const candidates: ClientEntry[] = [
  ...list('token_endpoint_auth_methods_supported').flatMap((m) => clientForMethod(m, methodSigner(m)) ?? []),
  ...list('token_endpoint_auth_signing_alg_values_supported').map(algClient),
];
const accepted: ClientEntry[] = [];
for (const client of candidates) if ((await problemsOf(client)).length === 0) accepted.push(client);
const gh = await startGatehouse({ config: gatehouseConfigSchema.parse({ ...testConfig(), clients: [...testConfig().clients, ...accepted] }) });
afterAll(() => gh.close());

/** A token request that passes client authentication ends in invalid_grant (the code is made up). */
async function authenticatesAs(method: string, clientId: string, signer: Signer) {
  const url = `${gh.issuer}${new URL(discovery.token_endpoint as string).pathname}`;
  const { headers, form } = await authenticate(method, clientId, signer, url);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'made-up',
      redirect_uri: `${RP}/${clientId}/callback`,
      code_verifier: 'x'.repeat(43),
      ...form,
    }),
  });
  return { status: response.status, error: ((await response.json()) as { error: string }).error };
}

describe.each(list('token_endpoint_auth_methods_supported'))('token endpoint auth method %s', (method) => {
  it('is accepted by the config file and authenticates a client', async () => {
    const signer = methodSigner(method);
    const client = clientForMethod(method, signer);
    expect(client, `no way to register a client for "${method}"`).toBeDefined();
    expect(await problemsOf(client!)).toEqual([]);
    expect(await authenticatesAs(method, client!.client_id, signer)).toEqual({ status: 400, error: 'invalid_grant' });
  });
});

describe.each(list('token_endpoint_auth_signing_alg_values_supported'))('client assertion algorithm %s', (alg) => {
  it('is accepted as token_endpoint_auth_signing_alg and verifies an assertion signed with it', async () => {
    const client = algClient(alg);
    expect(await problemsOf(client)).toEqual([]);
    const method = client.token_endpoint_auth_method as string;
    expect(await authenticatesAs(method, client.client_id, signers.get(alg)!)).toEqual({ status: 400, error: 'invalid_grant' });
  });
});

// ---- what a client entry may list ----

describe.each(list('grant_types_supported'))('grant type %s', (grant) => {
  it('can be listed in a client entry', async () => {
    const grants = grant === 'refresh_token' ? ['authorization_code', grant] : [grant];
    expect(await problemsOf(webClient(`grant-${grant}`, { grant_types: grants }))).toEqual([]);
  });
});

describe.each(list('response_types_supported'))('response type %s', (responseType) => {
  it('can be listed in a client entry', async () => {
    expect(await problemsOf(webClient('rt', { response_types: [responseType] }))).toEqual([]);
  });
});

describe.each(list('id_token_signing_alg_values_supported'))('ID token signing algorithm %s', (alg) => {
  it('can be a client’s id_token_signed_response_alg', async () => {
    expect(await problemsOf(webClient('idt', { id_token_signed_response_alg: alg }))).toEqual([]);
  });
});

describe.each(list('scopes_supported'))('scope %s', (scope) => {
  it('can be in a client’s scope', async () => {
    expect(await problemsOf(webClient('scoped', { scope: `openid ${scope}` }))).toEqual([]);
  });
});

// ---- what an authorization request may use ----

/** An authorization request from `web` with these parameters reaches the login page. */
async function reachesLogin(params: Record<string, string>): Promise<string> {
  const query = new URLSearchParams({ client_id: 'web', response_type: 'code', redirect_uri: `${RP}/callback`, scope: 'openid', ...FIXED_PKCE, ...params });
  const result = await new UserAgent().follow(`${gh.issuer}/auth?${query.toString()}`, {}, RP);
  if (!isPage(result)) return `redirected back: ${result.redirectedTo}`;
  return result.$('form[action$="/login"] input[name="password"]').length ? 'login' : `${String(result.status)} ${result.$('h1').text()}`;
}

describe.each(list('response_modes_supported'))('response mode %s', (mode) => {
  it('is accepted in an authorization request', async () => {
    expect(await reachesLogin({ response_mode: mode })).toBe('login');
  });
});

describe.each(list('code_challenge_methods_supported'))('code challenge method %s', (method) => {
  it('is accepted in an authorization request', async () => {
    expect(await reachesLogin({ code_challenge_method: method })).toBe('login');
  });
});

describe.each(list('ui_locales_supported'))('ui_locales %s', (locale) => {
  it('gives the login page in that language', async () => {
    const query = new URLSearchParams({
      client_id: 'web',
      response_type: 'code',
      redirect_uri: `${RP}/callback`,
      scope: 'openid',
      ui_locales: locale,
      ...FIXED_PKCE,
    });
    const result = await new UserAgent().follow(`${gh.issuer}/auth?${query.toString()}`, {}, RP);
    expect(isPage(result) && result.$('html').attr('lang')).toBe(locale);
  });
});

describe('request parameters', () => {
  it('claims_parameter_supported: a claims request is accepted', async () => {
    expect(discovery.claims_parameter_supported).toBe(true);
    expect(await reachesLogin({ claims: JSON.stringify({ id_token: { email: null } }) })).toBe('login');
  });

  it('pushed_authorization_request_endpoint: a client may require PAR, and a pushed request is taken', async () => {
    expect(await problemsOf(webClient('par', { require_pushed_authorization_requests: true }))).toEqual([]);
    const response = await fetch(`${gh.issuer}${new URL(discovery.pushed_authorization_request_endpoint as string).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth({ clientId: 'web', secret: SECRETS.web }) },
      body: new URLSearchParams({ client_id: 'web', response_type: 'code', redirect_uri: `${RP}/callback`, scope: 'openid', ...FIXED_PKCE }),
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { request_uri: string }).request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });

  it('request_parameter_supported and request_uri_parameter_supported say what the config allows', () => {
    // Request objects are not offered: no client field registers keys or algorithms for them.
    expect(discovery.request_parameter_supported ?? false).toBe(false);
    expect(discovery.request_uri_parameter_supported ?? false).toBe(false);
  });
});

// ---- sender-constrained tokens and logout ----

describe.each(list('dpop_signing_alg_values_supported'))('DPoP proof algorithm %s', (alg) => {
  it('binds a token, and a client may require DPoP', async () => {
    expect(await problemsOf(webClient('dpop', { dpop_bound_access_tokens: true }))).toEqual([]);
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const proof = await new SignJWT({ htm: 'POST', htu: `${gh.issuer}/token` })
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setJti(randomUUID())
      .setIssuedAt()
      .sign(privateKey);
    const response = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth({ clientId: 'service', secret: SECRETS.service }), dpop: proof },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'things:read' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { token_type: string }).token_type).toBe('DPoP');
  });
});

describe('logout', () => {
  it.each([
    ['backchannel_logout_supported', { backchannel_logout_uri: `${RP}/bc` }],
    ['backchannel_logout_session_supported', { backchannel_logout_uri: `${RP}/bc`, backchannel_logout_session_required: true }],
    ['frontchannel_logout_supported', { frontchannel_logout_uri: `${RP}/fc` }],
    ['frontchannel_logout_session_supported', { frontchannel_logout_uri: `${RP}/fc`, frontchannel_logout_session_required: true }],
  ])('%s is advertised and configurable', async (key, fields) => {
    expect(discovery[key]).toBe(true);
    expect(await problemsOf(webClient('logout', fields))).toEqual([]);
  });
});

// ---- nothing advertised goes unchecked ----

const CHECKED_ABOVE = new Set([
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'grant_types_supported',
  'response_types_supported',
  'id_token_signing_alg_values_supported',
  'scopes_supported',
  'response_modes_supported',
  'code_challenge_methods_supported',
  'claims_parameter_supported',
  'pushed_authorization_request_endpoint',
  'request_parameter_supported',
  'request_uri_parameter_supported',
  'dpop_signing_alg_values_supported',
  'backchannel_logout_supported',
  'backchannel_logout_session_supported',
  'frontchannel_logout_supported',
  'frontchannel_logout_session_supported',
  'ui_locales_supported',
]);
// Where each endpoint is, and facts no client field changes, are other tests' business.
const DESCRIBED_ELSEWHERE = new Set([
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'end_session_endpoint',
  'introspection_endpoint',
  'revocation_endpoint',
  'device_authorization_endpoint',
  'claims_supported',
  'claim_types_supported',
  'subject_types_supported',
  'acr_values_supported',
  'authorization_response_iss_parameter_supported',
]);

it('has no member that nothing checks', () => {
  const unchecked = Object.keys(discovery).filter((key) => !CHECKED_ABOVE.has(key) && !DESCRIBED_ELSEWHERE.has(key));
  expect(unchecked).toEqual([]);
});
