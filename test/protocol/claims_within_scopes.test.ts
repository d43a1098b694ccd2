import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import type { ClientConfig } from '../../src/config/gatehouse_config.js';
import { buildClient, configWithClients } from '../support/factories.js';
import { discover, oidc } from '../support/relying_party.js';
import { endpoints, postForm, userinfo } from '../support/oauth_requests.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization, visibleText, type Landing } from '../support/hosted_pages.js';
import { UserAgent, isPage } from '../support/user_agent.js';

// Security issue #11, point 1: the `claims` request parameter must not widen what a client
// learns. A client registered for `openid` alone named `email` and `name` in `claims` and got
// them in its ID token and at userinfo; a skip_consent client (and the built-in account client)
// without even a consent page. A claim is released only when a scope covering it was asked for
// and granted; the consent page lists exactly that.

const SECRET = 'claims-test-secret-0123456789abcdef0123';
const ASK_EVERYTHING = JSON.stringify({
  id_token: { email: null, email_verified: null, name: null, given_name: null, preferred_username: null },
  userinfo: { email: null, email_verified: null, name: null, family_name: null, preferred_username: null },
});
const PERSONAL = ['email', 'email_verified', 'name', 'given_name', 'family_name', 'preferred_username', 'updated_at'];

let gh: RunningGatehouse;
let aliceSub: string;
let jwks: ReturnType<typeof createRemoteJWKSet>;

// Secret shared by this file's clients; a client named `x` redirects to RP/x/callback.
const client = (clientId: string, scope: string, extra: Partial<ClientConfig> = {}) =>
  buildClient(clientId, { client_secret: SECRET, client_name: `App ${clientId}`, scope, ...extra });

beforeAll(async () => {
  const config = configWithClients(client('narrow', 'openid'), client('narrow-first-party', 'openid', { skip_consent: true }), client('mail', 'openid email'));
  gh = await startGatehouse({ config });
  aliceSub = (await gh.createUser({ ...ALICE, email_verified: true })).sub;
  jwks = createRemoteJWKSet(new URL((await endpoints(gh.issuer)).jwks));
});
afterAll(() => gh?.close());

const alice = { login: ALICE.username, password: ALICE.password };

interface Flow {
  idToken: JWTPayload;
  userinfo: Record<string, unknown>;
  /** the consent page's text, if one was shown */
  consentText?: string;
}

/** A full sign-in as `clientId`, pressing Allow on a consent page if one shows. */
async function signIn(clientId: string, scope: string, claims?: string, options: { redirectUri?: string; secret?: string | null } = {}): Promise<Flow> {
  const secret = options.secret === null ? undefined : (options.secret ?? SECRET);
  const config = await discover(gh.issuer, clientId, secret);
  const redirectUri = options.redirectUri ?? `${RP}/${clientId}/callback`;
  const started = await startAuthorization(config, { scope, redirectUri, params: claims ? { claims } : {} });
  const stopAt = new URL(redirectUri).origin === RP ? RP : redirectUri;
  let landing: Landing = expectPage(started.landing);
  expect(pageKind(landing)).toBe('login');
  landing = await started.ua.submit(landing, LOGIN_FORM, alice, stopAt);
  let consentText: string | undefined;
  if (isPage(landing) && pageKind(landing) === 'consent') {
    consentText = visibleText(landing);
    landing = await started.ua.submit(landing, CONSENT_FORM, {}, stopAt);
  }
  const callback = expectRedirect(landing);
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: started.codeVerifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });
  // Verified as an RP must: signature against the JWKS, issuer, audience.
  const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: gh.issuer, audience: clientId });
  const info = await userinfo(gh.issuer, tokens.access_token);
  expect(info.status).toBe(200);
  return { idToken: payload, userinfo: info.body, consentText };
}

function expectNoPersonalClaims(flow: Flow): void {
  for (const claim of PERSONAL) {
    expect(flow.idToken, `ID token ${claim}`).not.toHaveProperty(claim);
    expect(flow.userinfo, `userinfo ${claim}`).not.toHaveProperty(claim);
  }
  expect(flow.idToken.sub).toBe(aliceSub);
  expect(flow.userinfo.sub).toBe(aliceSub);
}

describe('the claims parameter stays within the scopes', () => {
  it('a client registered for openid alone gets neither email nor name, and the consent page offers neither', async () => {
    const flow = await signIn('narrow', 'openid', ASK_EVERYTHING);
    expectNoPersonalClaims(flow);
    expect(flow.consentText).toBeDefined();
    expect(flow.consentText).not.toMatch(/email|name/i);
  });

  it('a skip_consent client registered for openid alone gets neither (no consent page either)', async () => {
    const flow = await signIn('narrow-first-party', 'openid', ASK_EVERYTHING);
    expect(flow.consentText).toBeUndefined();
    expectNoPersonalClaims(flow);
  });

  it('the built-in account client (skip_consent, openid) gets neither', async () => {
    const flow = await signIn('gatehouse-account', 'openid', ASK_EVERYTHING, { redirectUri: `${gh.issuer}/account/callback`, secret: null });
    expect(flow.consentText).toBeUndefined();
    expectNoPersonalClaims(flow);
  });

  it('a client registered for openid email gets email through claims only when the email scope is granted', async () => {
    const emailOnly = JSON.stringify({ id_token: { email: null, name: null }, userinfo: { email: null, name: null } });

    const without = await signIn('mail', 'openid', emailOnly);
    expectNoPersonalClaims(without);
    expect(without.consentText).not.toMatch(/email/i);

    const granted = await signIn('mail', 'openid email', emailOnly);
    expect(granted.consentText).toContain('See your email address');
    expect(granted.consentText).not.toMatch(/name/i);
    // Asked for in the ID token by `claims`, so there too (not only at userinfo).
    expect(granted.idToken.email).toBe(ALICE.email);
    expect(granted.userinfo.email).toBe(ALICE.email);
    // `name` is covered by no scope it may have.
    expect(granted.idToken).not.toHaveProperty('name');
    expect(granted.userinfo).not.toHaveProperty('name');

    // Granted once, a later request with the email scope gets it without asking again...
    const again = await signIn('mail', 'openid email', emailOnly);
    expect(again.consentText).toBeUndefined();
    expect(again.idToken.email).toBe(ALICE.email);
    // ...but a request without the scope still does not.
    const narrower = await signIn('mail', 'openid', emailOnly);
    expectNoPersonalClaims(narrower);
  });

  it('a client allowed profile but granted only openid does not get the profile claims', async () => {
    // `web` may have profile and email; this request asks the scope openid only.
    const flow = await signIn('web', 'openid', ASK_EVERYTHING, { redirectUri: `${RP}/callback`, secret: SECRETS.web });
    expectNoPersonalClaims(flow);
  });

  it('stores no claim its scopes do not cover, in the grant nor in the remembered consent', async () => {
    await signIn('narrow', 'openid', ASK_EVERYTHING);
    const { rows } = await gh.testDb.db.query<{ scope: string; claims: string[] }>('SELECT scope, claims FROM consents WHERE sub = $1 AND client_id = $2', [
      aliceSub,
      'narrow',
    ]);
    expect(rows[0]!.scope).toBe('openid');
    expect(rows[0]!.claims.filter((c) => PERSONAL.includes(c))).toEqual([]);
    const grants = await gh.testDb.db.query<{ payload: { openid?: { claims?: string[] } } }>(
      `SELECT payload FROM oidc_models WHERE model = 'Grant' AND payload->>'clientId' = 'narrow'`,
    );
    expect(grants.rows.length).toBeGreaterThan(0);
    for (const g of grants.rows) expect((g.payload.openid?.claims ?? []).filter((c) => PERSONAL.includes(c))).toEqual([]);
  });
});

describe('a pushed authorization request (RFC 9126)', () => {
  it('is held to the same rule: a client registered for openid gets neither email nor name', async () => {
    const config = await discover(gh.issuer, 'narrow', SECRET);
    const verifier = oidc.randomPKCECodeVerifier();
    const redirectUri = `${RP}/narrow/callback`;
    const pushed = await postForm(
      `${gh.issuer}/request`,
      { clientId: 'narrow', secret: SECRET },
      {
        client_id: 'narrow',
        response_type: 'code',
        scope: 'openid',
        redirect_uri: redirectUri,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'par-state',
        nonce: 'par-nonce',
        claims: ASK_EVERYTHING,
      },
    );
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const ua = new UserAgent();
    const login = expectPage(await ua.follow(`${gh.issuer}/auth?client_id=narrow&request_uri=${encodeURIComponent(String(pushed.body.request_uri))}`, {}, RP));
    let landing: Landing = await ua.submit(login, LOGIN_FORM, alice, RP);
    if (isPage(landing)) landing = await ua.submit(landing, CONSENT_FORM, {}, RP);
    const tokens = await oidc.authorizationCodeGrant(config, expectRedirect(landing), {
      pkceCodeVerifier: verifier,
      expectedState: 'par-state',
      expectedNonce: 'par-nonce',
    });
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: gh.issuer, audience: 'narrow' });
    const info = await userinfo(gh.issuer, tokens.access_token);
    expectNoPersonalClaims({ idToken: payload, userinfo: info.body });
  });
});

describe('a malformed claims parameter', () => {
  it('is still refused with invalid_request back at the client (members must be null or objects)', async () => {
    const config = await discover(gh.issuer, 'mail', SECRET);
    for (const claims of ['{"id_token":{"email":"yes"}}', '{"userinfo":{"email":[1]}}', '{"id_token":{"name":true}}']) {
      const { landing, state } = await startAuthorization(config, { scope: 'openid email', redirectUri: `${RP}/mail/callback`, params: { claims } });
      const params = new URL(expectRedirect(landing)).searchParams;
      expect(params.get('error'), claims).toBe('invalid_request');
      expect(params.get('error_description'), claims).toMatch(/members must be null or objects/);
      expect(params.get('state')).toBe(state);
    }
  });
});

describe('what earlier releases stored', () => {
  it('a remembered consent naming claims beyond its scopes releases none of them', async () => {
    // What the old code remembered after the attack: scope openid, claims email and name.
    await gh.testDb.db.query(
      `INSERT INTO consents (sub, client_id, scope, claims, resource_scopes) VALUES ($1, 'narrow', 'openid', '["email","name"]', '{}')
       ON CONFLICT (sub, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims`,
      [aliceSub],
    );
    const flow = await signIn('narrow', 'openid', ASK_EVERYTHING);
    expect(flow.consentText).toBeUndefined();
    expectNoPersonalClaims(flow);
  });

  it('a grant and access token stored with such claims answer userinfo without them', async () => {
    const config = await discover(gh.issuer, 'narrow', SECRET);
    const started = await startAuthorization(config, { scope: 'openid', redirectUri: `${RP}/narrow/callback` });
    const callback = expectRedirect(await started.ua.submit(expectPage(started.landing), LOGIN_FORM, alice, RP));
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    const grantId = (
      await gh.testDb.db.query<{ grant_id: string }>(
        `SELECT grant_id FROM oidc_models WHERE model = 'AccessToken' AND payload->>'clientId' = 'narrow' ORDER BY expires_at DESC LIMIT 1`,
      )
    ).rows[0]!.grant_id;
    // As the old code stored them after the attack.
    await gh.testDb.db.query(`UPDATE oidc_models SET payload = jsonb_set(payload, '{openid,claims}', '["email","name"]') WHERE model = 'Grant' AND id = $1`, [
      grantId,
    ]);
    await gh.testDb.db.query(
      `UPDATE oidc_models SET payload = jsonb_set(payload, '{claims}', '{"userinfo":{"email":null,"name":null}}') WHERE model = 'AccessToken' AND grant_id = $1`,
      [grantId],
    );
    const info = await userinfo(gh.issuer, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body.sub).toBe(aliceSub);
    expect(info.body).not.toHaveProperty('email');
    expect(info.body).not.toHaveProperty('name');
  });
});
