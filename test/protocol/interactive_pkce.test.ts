import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP } from '../support/fixtures.js';
import { authorize, discover, oidc, signIn } from '../support/relying_party.js';
import { callbackParams, expectRedirect, startAuthorization } from '../support/hosted_pages.js';

// PKCE for the public `spa` client: required, S256 only, and the verifier is checked.

let gh: RunningGatehouse;
let spa: oidc.Configuration;

const SPA_CALLBACK = `${RP}/spa/callback`;
const alice = { login: ALICE.username, password: ALICE.password };

beforeAll(async () => {
  gh = await startGatehouse();
  await gh.createUser(ALICE);
  spa = await discover(gh.issuer, 'spa');
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
