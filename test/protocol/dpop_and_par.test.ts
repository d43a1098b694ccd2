import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { buildUser, configWithClients, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { authorize, discover, oidc } from '../support/relying_party.js';
import { FIXED_PKCE, RP, SECRETS } from '../support/fixtures.js';
import { endpoints, introspect } from '../support/oauth_requests.js';
import { UserAgent, isPage } from '../support/user_agent.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';

// DPoP (RFC 9449): a client registered with `dpop_bound_access_tokens` gets only tokens bound to
// a key it proves it holds with every use; a stolen token alone is worthless. PAR (RFC 9126): a
// client registered with `require_pushed_authorization_requests` has its authorization requests
// pushed over the back channel first, never as readable query parameters.

const USER = buildUser();
const DPOP_SECRET = 'dpop-service-secret-0123456789abcdef0123';
const PAR_SECRET = 'par-only-secret-0123456789abcdef01234567';

let gh: RunningGatehouse;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([USER], {
    config: configWithClients(
      {
        client_id: 'dpop-app',
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
        redirect_uris: [`${RP}/dpop-app/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile offline_access',
      },
      { client_id: 'dpop-service', client_secret: DPOP_SECRET, dpop_bound_access_tokens: true, grant_types: ['client_credentials'], scope: 'notes:read' },
      {
        client_id: 'par-only',
        client_secret: PAR_SECRET,
        require_pushed_authorization_requests: true,
        redirect_uris: [`${RP}/par-only/callback`],
        scope: 'openid profile',
      },
    ),
  }));
});
afterAll(() => gh?.close());

/** The public DPoP app signed in: its tokens, bound to `keyPair`. */
async function dpopSignIn(keyPair: oidc.CryptoKeyPair) {
  const rp = await discover(gh.issuer, 'dpop-app');
  const DPoP = oidc.getDPoPHandle(rp, keyPair);
  const result = await authorize(rp, {
    redirectUri: `${RP}/dpop-app/callback`,
    scope: 'openid profile offline_access',
    params: { prompt: 'consent' },
    credentials: credentialsOf(USER),
    consent: 'allow',
  });
  const tokens = await oidc.authorizationCodeGrant(
    rp,
    result.callback,
    { pkceCodeVerifier: result.codeVerifier, expectedState: result.state, expectedNonce: result.nonce },
    undefined,
    { DPoP },
  );
  return { rp, DPoP, tokens };
}

describe('DPoP-bound tokens of a public client', () => {
  let keyPair: oidc.CryptoKeyPair;
  let signedIn: Awaited<ReturnType<typeof dpopSignIn>>;
  beforeAll(async () => {
    keyPair = await oidc.randomDPoPKeyPair('ES256');
    signedIn = await dpopSignIn(keyPair);
  });

  it('are issued as DPoP tokens, and userinfo answers with the proof', async () => {
    expect(signedIn.tokens.token_type.toLowerCase()).toBe('dpop');
    const info = await oidc.fetchUserInfo(signedIn.rp, signedIn.tokens.access_token, signedIn.tokens.claims()!.sub, { DPoP: signedIn.DPoP });
    expect(info.preferred_username).toBe(USER.username);
  });

  it('are refused at userinfo without the proof: 401 with a DPoP challenge', async () => {
    const url = (await endpoints(gh.issuer)).userinfo;
    const asDpop = await fetch(url, { headers: { authorization: `DPoP ${signedIn.tokens.access_token}` } });
    expect(asDpop.status).toBe(401);
    const challenge = asDpop.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^DPoP realm="/);
    expect(challenge).toContain('error="invalid_dpop_proof"');
    expect(challenge).toMatch(/algs="ES256[^"]*"/);
    expect(((await asDpop.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    // Downgraded to a bearer token, it is refused too.
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${signedIn.tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('are refused with a proof from another key', async () => {
    const other = oidc.getDPoPHandle(signedIn.rp, await oidc.randomDPoPKeyPair('ES256'));
    await expect(oidc.fetchUserInfo(signedIn.rp, signedIn.tokens.access_token, signedIn.tokens.claims()!.sub, { DPoP: other })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('come with a refresh token bound to the same key', async () => {
    const refreshToken = signedIn.tokens.refresh_token!;
    expect(refreshToken).toBeTruthy();
    // Without a proof, or with another key's, the refresh token is useless.
    const token = (await endpoints(gh.issuer)).token;
    const bare = await fetch(token, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'dpop-app' }).toString(),
    });
    expect(bare.status).toBe(400);
    expect(((await bare.json()) as { error: string }).error).toMatch(/invalid_(dpop_proof|grant)/);
    const other = oidc.getDPoPHandle(signedIn.rp, await oidc.randomDPoPKeyPair('ES256'));
    await expect(oidc.refreshTokenGrant(signedIn.rp, refreshToken, undefined, { DPoP: other })).rejects.toMatchObject({ error: 'invalid_grant' });
    // With its own key it rotates, still bound.
    const refreshed = await oidc.refreshTokenGrant(signedIn.rp, refreshToken, undefined, { DPoP: signedIn.DPoP });
    expect(refreshed.token_type.toLowerCase()).toBe('dpop');
    const info = await oidc.fetchUserInfo(signedIn.rp, refreshed.access_token, signedIn.tokens.claims()!.sub, { DPoP: signedIn.DPoP });
    expect(info.sub).toBe(signedIn.tokens.claims()!.sub);
  });

  // The library's answer to a token request that lacks the proof the client registered for.
  it('cannot be had without a proof: the code exchange needs one (400 invalid_grant)', async () => {
    const rp = await discover(gh.issuer, 'dpop-app');
    const result = await authorize(rp, { redirectUri: `${RP}/dpop-app/callback`, scope: 'openid', credentials: credentialsOf(USER), consent: 'allow' });
    await expect(
      oidc.authorizationCodeGrant(rp, result.callback, { pkceCodeVerifier: result.codeVerifier, expectedState: result.state, expectedNonce: result.nonce }),
    ).rejects.toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('DPoP-bound tokens of a confidential client', () => {
  it('introspect with cnf.jkt, the thumbprint of the key the client proved', async () => {
    const keyPair = await oidc.randomDPoPKeyPair('ES256');
    const rp = await discover(gh.issuer, 'dpop-service', DPOP_SECRET);
    const tokens = await oidc.clientCredentialsGrant(rp, { scope: 'notes:read' }, { DPoP: oidc.getDPoPHandle(rp, keyPair) });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const found = await introspect(gh.issuer, { clientId: 'introspector', secret: SECRETS.introspector }, tokens.access_token);
    expect(found.status).toBe(200);
    expect(found.body.active).toBe(true);
    expect(found.body.token_type).toBe('DPoP');
    expect(found.body.cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) });
  });

  // The library's answer to a token request that lacks the proof the client registered for.
  it('get no token without a proof (400 invalid_grant)', async () => {
    const rp = await discover(gh.issuer, 'dpop-service', DPOP_SECRET);
    await expect(oidc.clientCredentialsGrant(rp, { scope: 'notes:read' })).rejects.toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('a client that must push its authorization requests (PAR)', () => {
  it('is refused a plain authorization request', async () => {
    const rp = await discover(gh.issuer, 'par-only', PAR_SECRET);
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: `${RP}/par-only/callback`, scope: 'openid', state: 'plain', ...FIXED_PKCE });
    const result = await new UserAgent().follow(url.href, {}, RP);
    expect(isPage(result)).toBe(false);
    const callback = new URL((result as { redirectedTo: string }).redirectedTo);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/i);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('signs in through a pushed request and exchanges the code', async () => {
    const rp = await discover(gh.issuer, 'par-only', PAR_SECRET);
    const ua = new UserAgent();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: `${RP}/par-only/callback`,
      scope: 'openid profile',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    // Only the client_id and the request_uri travel through the browser.
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    let page = await ua.follow(url.href, {}, RP);
    if (isPage(page)) page = await ua.submit(page, 'form[action$="/login"]', credentialsOf(USER), RP);
    if (isPage(page)) page = await ua.submit(page, 'form[action$="/confirm"]', {}, RP);
    expect(isPage(page)).toBe(false);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL((page as { redirectedTo: string }).redirectedTo), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.claims()?.aud).toBe('par-only');
  });
});
