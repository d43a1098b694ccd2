import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { authorize, discover, oidc, signIn } from '../support/relying_party.js';
import { endpoints, tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { availableBackends } from '../support/storage_backends.js';
import { isPage } from '../support/user_agent.js';
import { runCli } from '../cli/cli_harness.js';

// Issue #11, point 6: a leaked key can be killed now. `gatehouse keys revoke <kid> --yes` deletes
// it; a running server (re-reading keys every KEY_REFRESH_SECONDS) stops publishing it, refuses
// what it signed and signs with its replacement. The attacker holds an ID token signed with the
// leaked signing key and a session cookie signed with the leaked cookie key.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };

describe.each(availableBackends())('keys revoke on a running server (%s)', (backend) => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;
  let cliEnv: Record<string, string>;
  beforeAll(async () => {
    gh = await startGatehouse({ backend, env: { KEY_REFRESH_SECONDS: '1' } });
    gh.gatehouse.host.startRefreshing();
    await gh.createUser(ALICE);
    rp = await discover(gh.issuer, 'web', SECRETS.web);
    cliEnv = backend === 'postgres' ? { DATABASE_URL: gh.testDb.databaseUrl } : { DATA_DIR: gh.testDb.dataDir };
  });
  afterAll(() => gh?.close());

  const jwks = async () => (await (await fetch((await endpoints(gh.issuer)).jwks)).json()) as JSONWebKeySet;
  const kids = async () => (await jwks()).keys.map((k) => k.kid);
  /** What id_token_hint gets at the end-session endpoint: 200 (the sign-out page) or an error. */
  const endSessionWith = async (idToken: string) =>
    (
      await fetch(oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: `${RP}/signed-out` }), {
        redirect: 'manual',
        headers: { accept: 'text/html' },
      })
    ).status;
  /** A silent sign-in with the browser's session cookie: the code, or the error the RP gets. */
  const silent = async (ua: Awaited<ReturnType<typeof signIn>>['ua']) => {
    const { callback } = await authorize(rp, { ua, scope: 'openid', params: { prompt: 'none' } });
    return callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : 'nothing');
  };

  it('a revoked signing key leaves the JWKS, what it signed stops verifying, its replacement signs', async () => {
    const { tokens, ua } = await signIn(rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    const idToken = tokens.id_token!;
    const leaked = decodeProtectedHeader(idToken).kid!;
    expect(await kids()).toContain(leaked);
    expect(await endSessionWith(idToken)).toBe(200);

    const result = await runCli(['keys', 'revoke', leaked, '--yes'], { env: cliEnv });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const replacement = /signing key (\S+) signs in its place/.exec(result.stdout)![1]!;

    await eventually(async () => !(await kids()).includes(leaked) && (await kids()).includes(replacement), { what: `${leaked} gone from the JWKS` });
    // The provider no longer accepts the leaked key's ID token as a hint…
    expect(await endSessionWith(idToken)).toBe(400);
    // …and no relying party refreshing the JWKS does either.
    await expect(jwtVerify(idToken, createLocalJWKSet(await jwks()), { issuer: gh.issuer, audience: 'web' })).rejects.toThrow();
    // New tokens are signed by the replacement and verify.
    const refreshed = await tokenRequest(gh.issuer, web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    const fresh = refreshed.body.id_token as string;
    expect(decodeProtectedHeader(fresh).kid).toBe(replacement);
    await jwtVerify(fresh, createLocalJWKSet(await jwks()), { issuer: gh.issuer, audience: 'web' });
    expect(await endSessionWith(fresh)).toBe(200);
    // The session cookie was signed by the cookie key, untouched: silent sign-in still works.
    expect(await silent(ua)).toBe('code');

    const { rows } = await gh.testDb.db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_events WHERE event = 'keys.revoked'`);
    expect(rows).toEqual([{ details: { actor: 'cli', kid: leaked, kind: 'signing', alg: 'RS256', replacement } }]);
  });

  it('a session cookie signed with a revoked cookie key is no longer accepted', async () => {
    const { ua } = await signIn(rp, { scope: 'openid', credentials: alice, params: { prompt: 'login' } });
    expect(await silent(ua)).toBe('code');
    const { rows } = await gh.testDb.db.query<{ kid: string; material: string }>(
      `SELECT kid, material FROM keys WHERE kind = 'cookie' AND activates_at <= now() ORDER BY activates_at DESC LIMIT 1`,
    );
    const leaked = rows[0]!;
    expect(gh.gatehouse.host.current().cookieKeys[0]).toBe(leaked.material);

    const result = await runCli(['keys', 'revoke', leaked.kid, '--yes'], { env: cliEnv });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    await eventually(() => !gh.gatehouse.host.current().cookieKeys.includes(leaked.material), { what: 'the server to drop the cookie key' });

    // The browser still sends the cookie signed with the leaked key: it is not a session any more.
    expect(await silent(ua)).toBe('login_required');
    const page = await ua.follow(`${gh.issuer}/account`, {}, RP);
    expect(isPage(page) ? page.url : page.redirectedTo).not.toMatch(/\/account$/);
  });
});
