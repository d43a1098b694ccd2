import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { configWithClients, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { authorize, discover, oidc, signIn } from '../support/relying_party.js';
import { CONSENT_FORM, LOGIN_FORM, callbackParams, expectPage, expectRedirect, startAuthorization } from '../support/hosted_pages.js';
import { tokenRequest as clientTokenRequest } from '../support/oauth_requests.js';

// PKCE: required of every client (RFC 9700 2.1.1), S256 only, and the verifier is checked. A
// legacy confidential client may be let off (`require_pkce: false`); a public client never.

let gh: RunningGatehouse;
let spa: oidc.Configuration;
let web: oidc.Configuration;
let legacy: oidc.Configuration;

const LEGACY_SECRET = 'legacy-secret-0123456789abcdef0123456789';
const LEGACY_CALLBACK = `${RP}/legacy/callback`;

const SPA_CALLBACK = `${RP}/spa/callback`;
const alice = credentialsOf(ALICE);

beforeAll(async () => {
  const legacyClient = { client_id: 'legacy', client_secret: LEGACY_SECRET, redirect_uris: [LEGACY_CALLBACK], scope: 'openid profile', require_pkce: false };
  ({ gh } = await startGatehouseWithUsers([ALICE], { config: configWithClients(legacyClient) }));
  spa = await rpFor(gh, 'spa');
  web = await rpFor(gh, 'web');
  legacy = await discover(gh.issuer, 'legacy', LEGACY_SECRET);
});
afterAll(() => gh?.close());

async function tokenRequest(form: Record<string, string>) {
  const { token_endpoint } = spa.serverMetadata();
  const response = await fetch(token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('PKCE for a public client', () => {
  it('refuses an authorization request without code_challenge', async () => {
    const { landing, state } = await startAuthorization(spa, {
      redirectUri: SPA_CALLBACK,
      params: { code_challenge: null, code_challenge_method: null },
    });
    const callback = expectRedirect(landing);
    expect(callback.href.startsWith(SPA_CALLBACK)).toBe(true);
    const params = callbackParams(callback);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('state')).toBe(state);
    expect(params.get('code')).toBeNull();
  });

  it('refuses code_challenge_method=plain', async () => {
    const { landing } = await startAuthorization(spa, {
      redirectUri: SPA_CALLBACK,
      params: { code_challenge: oidc.randomPKCECodeVerifier(), code_challenge_method: 'plain' },
    });
    const params = callbackParams(expectRedirect(landing));
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('code')).toBeNull();
  });

  it('signs in with S256 and exchanges the code with the verifier', async () => {
    const { tokens, seen } = await signIn(spa, { redirectUri: SPA_CALLBACK, credentials: alice, consent: 'allow' });
    expect(seen.login).toBe(1);
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: 'spa' });
    expect(payload.sub).toBeTruthy();
  });

  it('refuses the code exchange without the verifier, and with a wrong one', async () => {
    for (const verifier of [undefined, oidc.randomPKCECodeVerifier()]) {
      const result = await authorize(spa, { redirectUri: SPA_CALLBACK, credentials: alice, consent: 'allow' });
      const code = callbackParams(result.callback).get('code');
      expect(code).toBeTruthy();
      const { status, body } = await tokenRequest({
        grant_type: 'authorization_code',
        code: code!,
        redirect_uri: SPA_CALLBACK,
        client_id: 'spa',
        ...(verifier ? { code_verifier: verifier } : {}),
      });
      expect(status).toBe(400);
      expect(body.error).toBe('invalid_grant');
      expect(body.access_token).toBeUndefined();
    }
  });
});

describe('PKCE for a confidential client', () => {
  // Code injection (RFC 9700 4.5): a stolen code replayed through the real client's callback is
  // redeemed with the client's own secret; only PKCE ties the code to the browser that asked.
  it('refuses an authorization request without code_challenge: invalid_request back to the client', async () => {
    const { landing, state } = await startAuthorization(web, { params: { code_challenge: null, code_challenge_method: null } });
    const callback = expectRedirect(landing);
    expect(callback.origin + callback.pathname).toBe(`${RP}/callback`);
    const params = callbackParams(callback);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toMatch(/PKCE/);
    expect(params.get('state')).toBe(state);
    expect(params.get('code')).toBeNull();
  });

  it('refuses code_challenge_method=plain', async () => {
    const { landing } = await startAuthorization(web, { params: { code_challenge: oidc.randomPKCECodeVerifier(), code_challenge_method: 'plain' } });
    const params = callbackParams(expectRedirect(landing));
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('code')).toBeNull();
  });

  it('lets a client registered with require_pkce: false sign in without it', async () => {
    const { ua, landing, state } = await startAuthorization(legacy, {
      redirectUri: LEGACY_CALLBACK,
      scope: 'openid',
      params: { code_challenge: null, code_challenge_method: null },
    });
    let next = await ua.submit(expectPage(landing), LOGIN_FORM, alice, RP);
    next = await ua.submit(expectPage(next), CONSENT_FORM, {}, RP);
    const params = callbackParams(expectRedirect(next));
    expect(params.get('state')).toBe(state);
    const code = params.get('code');
    expect(code).toBeTruthy();
    const tokens = await clientTokenRequest(
      gh.issuer,
      { clientId: 'legacy', secret: LEGACY_SECRET },
      { grant_type: 'authorization_code', code: code!, redirect_uri: LEGACY_CALLBACK },
    );
    expect(tokens.status).toBe(200);
    expect(tokens.body.id_token).toBeTypeOf('string');
  });

  it('still checks the verifier when such a client does send a challenge', async () => {
    const result = await authorize(legacy, { redirectUri: LEGACY_CALLBACK, scope: 'openid', credentials: alice });
    const code = callbackParams(result.callback).get('code')!;
    const refused = await clientTokenRequest(
      gh.issuer,
      { clientId: 'legacy', secret: LEGACY_SECRET },
      { grant_type: 'authorization_code', code, redirect_uri: LEGACY_CALLBACK },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
  });

  it('discovery offers S256 only', async () => {
    const metadata = (await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });
});
