import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, testConfig } from '../support/fixtures.js';
import { buildClient } from '../support/factories.js';
import { discover, oidc } from '../support/relying_party.js';
import { endpoints, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization, visibleText, type Landing } from '../support/hosted_pages.js';
import { isPage, type UserAgent } from '../support/user_agent.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { createUsersRepo, type UsersRepo } from '../../src/accounts/users_repo.js';

// Identity resources (#13): a scope from the config file releasing user claims. Granted, its
// claims (and only they) reach userinfo, and the ID token when the `claims` parameter asks;
// not granted, none of them do; discovery lists them; a claim changed in the database shows in
// the very next answer.

const SECRET = 'identity-resources-secret-0123456789ab';
const EMPLOYEE = ['department', 'employee_number', 'roles'];

let gh: RunningGatehouse;
let users: UsersRepo;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  const base = testConfig();
  const config = gatehouseConfigSchema.parse({
    ...base,
    identity_resources: [
      { name: 'employee', display_name: 'Employee details', claims: EMPLOYEE },
      { name: 'badge', display_name: 'Your badge', claims: ['badge_id'] },
    ],
    clients: [
      ...base.clients,
      buildClient('staff', {
        client_secret: SECRET,
        client_name: 'Staff app',
        scope: 'openid profile email employee offline_access things:read',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    ],
  });
  gh = await startGatehouse({ config });
  users = createUsersRepo(gh.testDb.db);
  await gh.createUser({ ...ALICE, email_verified: true });
  await users.setClaim(ALICE.username, 'department', 'Sales');
  await users.setClaim(ALICE.username, 'employee_number', 42);
  await users.setClaim(ALICE.username, 'badge_id', 'B-7');
  await users.setClaim(ALICE.username, 'shoe_size', 44);
  await users.addRoles(ALICE.username, ['reader', 'admin']);
  jwks = createRemoteJWKSet(new URL((await endpoints(gh.issuer)).jwks));
});
afterAll(() => gh?.close());

interface Flow {
  idToken: JWTPayload;
  userinfo: Record<string, unknown>;
  tokens: oidc.TokenEndpointResponse;
  consentText?: string;
  ua: UserAgent;
}

async function signIn(scope: string, params: Record<string, string> = {}, who: { username: string; password: string } = ALICE): Promise<Flow> {
  const config = await discover(gh.issuer, 'staff', SECRET);
  const redirectUri = `${RP}/staff/callback`;
  const started = await startAuthorization(config, { scope, redirectUri, params });
  let landing: Landing = expectPage(started.landing);
  expect(pageKind(landing)).toBe('login');
  landing = await started.ua.submit(landing, LOGIN_FORM, { login: who.username, password: who.password }, RP);
  let consentText: string | undefined;
  if (isPage(landing) && pageKind(landing) === 'consent') {
    consentText = visibleText(landing);
    landing = await started.ua.submit(landing, CONSENT_FORM, {}, RP);
  }
  const tokens = await oidc.authorizationCodeGrant(config, expectRedirect(landing), {
    pkceCodeVerifier: started.codeVerifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });
  const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: gh.issuer, audience: 'staff' });
  const info = await userinfo(gh.issuer, tokens.access_token);
  expect(info.status).toBe(200);
  return { idToken: payload, userinfo: info.body, tokens, consentText, ua: started.ua };
}

const customClaims = (claims: object) => Object.fromEntries(Object.entries(claims).filter(([k]) => [...EMPLOYEE, 'badge_id', 'shoe_size'].includes(k)));

describe('a granted identity resource', () => {
  it('puts exactly its claims in userinfo, and says so in words on the consent page', async () => {
    const flow = await signIn('openid employee');
    expect(customClaims(flow.userinfo)).toEqual({ department: 'Sales', employee_number: 42, roles: ['reader', 'admin'] });
    // No profile scope was asked: no profile claims either.
    expect(flow.userinfo).not.toHaveProperty('name');
    expect(flow.consentText).toContain('Employee details');
    expect(flow.consentText).toContain('your department, your employee number, your roles');
    // Code flow: the claims go to userinfo, the ID token carries none unless asked (conformIdTokenClaims).
    expect(customClaims(flow.idToken)).toEqual({});
    // The account page lists the grant in the same words.
    const account = expectPage(await flow.ua.follow(`${gh.issuer}/account`));
    expect(account.$('h1').text()).toBe('Your account');
    expect(visibleText(account)).toContain('Employee details: see your department, your employee number, your roles');
  });

  it('puts its claims in the ID token when the access token is for an API (no userinfo)', async () => {
    const config = await discover(gh.issuer, 'staff', SECRET);
    const started = await startAuthorization(config, { scope: 'openid employee things:read', redirectUri: `${RP}/staff/callback` });
    let landing: Landing = await started.ua.submit(expectPage(started.landing), LOGIN_FORM, { login: ALICE.username, password: ALICE.password }, RP);
    if (isPage(landing)) landing = await started.ua.submit(landing, CONSENT_FORM, {}, RP);
    const tokens = await oidc.authorizationCodeGrant(config, expectRedirect(landing), {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: gh.issuer, audience: 'staff' });
    expect((await userinfo(gh.issuer, tokens.access_token)).status).toBe(401);
    expect(customClaims(payload)).toEqual({ department: 'Sales', employee_number: 42, roles: ['reader', 'admin'] });
  });

  it('puts the claims the `claims` parameter names in the ID token too', async () => {
    const flow = await signIn('openid employee', { claims: JSON.stringify({ id_token: { department: null, roles: null, badge_id: null } }) });
    expect(customClaims(flow.idToken)).toEqual({ department: 'Sales', roles: ['reader', 'admin'] });
  });
});

describe('an identity resource not granted', () => {
  it('releases none of its claims, even when the claims parameter names them', async () => {
    const asked = { department: null, employee_number: null, roles: null, badge_id: null, shoe_size: null };
    const flow = await signIn('openid profile', { claims: JSON.stringify({ id_token: asked, userinfo: asked }) });
    expect(customClaims(flow.idToken)).toEqual({});
    expect(customClaims(flow.userinfo)).toEqual({});
    expect(flow.userinfo.preferred_username).toBe(ALICE.username);
  });

  it('cannot be asked for by a client whose scope does not list it (invalid_scope)', async () => {
    const config = await discover(gh.issuer, 'staff', SECRET);
    const { landing } = await startAuthorization(config, { scope: 'openid employee badge', redirectUri: `${RP}/staff/callback` });
    const params = new URL(expectRedirect(landing)).searchParams;
    expect(params.get('error')).toBe('invalid_scope');
    expect(params.get('scope')).toBe('badge');
  });
});

describe('claims written to the database around the CLI', () => {
  it('never stand in for a standard or protocol claim', async () => {
    const carol = { username: 'carol', password: 'carol has a long passphrase too' };
    await gh.createUser(carol);
    await gh.testDb.db.query(`UPDATE users SET claims = $1 WHERE username = 'carol'`, [
      JSON.stringify({ email: 'forged@example.test', email_verified: true, name: 'Forged', sub: 'someone-else', department: 'Ops' }),
    ]);
    const flow = await signIn('openid profile email employee', {}, carol);
    expect(flow.userinfo).not.toHaveProperty('email');
    expect(flow.userinfo.email_verified).toBe(false);
    expect(flow.userinfo).not.toHaveProperty('name');
    expect(flow.userinfo.sub).toBe(flow.idToken.sub);
    expect(flow.userinfo.sub).not.toBe('someone-else');
    expect(flow.userinfo.department).toBe('Ops');
  });
});

describe('a claim or role changed in the database', () => {
  it('shows in the next userinfo answer and in the tokens of the next refresh', async () => {
    const flow = await signIn('openid employee offline_access', { prompt: 'consent' });
    expect(flow.userinfo.roles).toEqual(['reader', 'admin']);

    await users.removeRoles(ALICE.username, ['admin']);
    await users.setClaim(ALICE.username, 'department', 'Research');
    const again = await userinfo(gh.issuer, flow.tokens.access_token);
    expect(customClaims(again.body)).toEqual({ department: 'Research', employee_number: 42, roles: ['reader'] });

    await users.addRoles(ALICE.username, ['auditor']);
    const refreshed = await tokenRequest(
      gh.issuer,
      { clientId: 'staff', secret: SECRET },
      { grant_type: 'refresh_token', refresh_token: flow.tokens.refresh_token! },
    );
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    const fresh = await userinfo(gh.issuer, String(refreshed.body.access_token));
    expect(fresh.body.roles).toEqual(['reader', 'auditor']);
    const { payload } = await jwtVerify(String(refreshed.body.id_token), jwks, { issuer: gh.issuer, audience: 'staff' });
    expect(payload.sub).toBe(flow.idToken.sub);

    await users.setClaim(ALICE.username, 'department', 'Sales');
    await users.removeRoles(ALICE.username, ['auditor']);
    await users.addRoles(ALICE.username, ['admin']);
  });
});

describe('discovery', () => {
  it('lists the identity resources in scopes_supported and their claims in claims_supported', async () => {
    const metadata = (await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'employee', 'badge']));
    expect(metadata.claims_supported).toEqual(expect.arrayContaining([...EMPLOYEE, 'badge_id', 'email', 'name']));
    expect(metadata.claims_supported).not.toContain('shoe_size');
    expect(metadata.claims_parameter_supported).toBe(true);
  });
});
