import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type * as oidcClient from 'openid-client';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { availableBackends } from '../support/storage_backends.js';
import { openDb } from '../../src/db/open_db.js';
import type { Db } from '../../src/db/db.js';
import { ALICE, API, RP, SECRETS } from '../support/fixtures.js';
import { authorize, discover, oidc } from '../support/relying_party.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, expectRedirect, startAuthorization } from '../support/hosted_pages.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { originOf, startSwitchingProxy, type SwitchingProxy } from '../support/switching_proxy.js';
import { eventually } from '../support/eventually.js';
import { runCli } from '../cli/cli_harness.js';

// Stateless instances (issue 5, point 4): two Gatehouse instances on one database, behind one
// issuer URL (a load balancer the test steers), share sessions, interactions, codes, tokens,
// clients and keys. Each step goes to the instance the test picks; the proxy records which
// instance answered, so each test shows the flow really crossed over. Each instance has its
// own connection pool: on Postgres, to the server; on the embedded database, to the socket
// the holder serves it on, as cluster workers reach the primary's (cluster_primary.ts).

const web = { clientId: 'web', secret: SECRETS.web };
const introspector = { clientId: 'introspector', secret: SECRETS.introspector };
const service = { clientId: 'service', secret: SECRETS.service };
const alice = { login: ALICE.username, password: ALICE.password };

describe.each(availableBackends())('two instances on one %s database', (backend) => {
  let testDb: TestDb;
  let proxy: SwitchingProxy;
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  let A: string;
  let B: string;
  let issuer: string;
  let rp: oidcClient.Configuration;
  let aliceSub: string;
  let dbB: Db;
  /** DATABASE_URL for the CLI (for the embedded database: its socket) */
  let cliDatabaseUrl: string;

  beforeAll(async () => {
    testDb = await createTestDb(backend);
    const socketDir = backend === 'embedded' ? (testDb.db.pool.options as { host: string }).host : undefined;
    dbB = await openDb({ databaseUrl: testDb.databaseUrl || undefined, dataDir: testDb.dataDir, poolSize: 5, role: 'server', embeddedSocketDir: socketDir });
    cliDatabaseUrl = socketDir ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}` : testDb.databaseUrl;
    proxy = await startSwitchingProxy();
    issuer = proxy.url;
    // One issuer for both, as behind a real load balancer; B re-reads keys every second.
    a = await startGatehouse({ testDb, env: { ISSUER: issuer } });
    b = await startGatehouse({ testDb: { ...testDb, db: dbB }, env: { ISSUER: issuer, KEY_REFRESH_SECONDS: '1' } });
    b.gatehouse.host.startRefreshing();
    A = originOf(a.server);
    B = originOf(b.server);
    aliceSub = (await a.createUser(ALICE)).sub;
    proxy.use(A);
    rp = await discover(issuer, 'web', SECRETS.web);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dbB?.close();
    await proxy?.close();
    await testDb?.drop();
  });

  /** Runs `step` with every request going to `origin`, and checks that it answered them all. */
  async function at<T>(origin: string, step: () => Promise<T>): Promise<T> {
    proxy.use(origin);
    const from = proxy.served.length;
    const result = await step();
    const seen = proxy.served.slice(from);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.target !== origin)).toEqual([]);
    return result;
  }

  it('a sign-in started at A is finished at B: the interaction and its cookie are shared', async () => {
    const started = await at(A, () => startAuthorization(rp, { scope: 'openid profile' }));
    const loginPage = expectPage(started.landing);
    expect(loginPage.$(`${LOGIN_FORM} input[name="password"]`)).toHaveLength(1);

    const consentPage = expectPage(await at(B, () => started.ua.submit(loginPage, LOGIN_FORM, alice, RP)));
    expect(consentPage.$(CONSENT_FORM)).toHaveLength(1);
    const callback = expectRedirect(await at(B, () => started.ua.submit(consentPage, CONSENT_FORM, {}, RP)));
    expect(callback.searchParams.get('state')).toBe(started.state);

    const tokens = await at(B, () =>
      oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: started.codeVerifier, expectedState: started.state, expectedNonce: started.nonce }),
    );
    expect(tokens.claims()?.sub).toBe(aliceSub);

    // The session B created is A's session too: a silent sign-in at A needs no login.
    const silent = await at(A, () => authorize(rp, { ua: started.ua, scope: 'openid profile', params: { prompt: 'none' } }));
    expect(silent.callback.searchParams.get('error')).toBeNull();
    expect(silent.callback.searchParams.get('code')).toBeTypeOf('string');
  });

  it("a code issued by A is redeemed at B (once), refreshed at B, and B accepts and introspects A's tokens", async () => {
    const issued = await at(A, () =>
      authorize(rp, { scope: 'openid profile offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' }),
    );
    const code = issued.callback.searchParams.get('code')!;
    expect(code).toBeTypeOf('string');

    const redeemed = await at(B, () =>
      tokenRequest(issuer, web, { grant_type: 'authorization_code', code, redirect_uri: `${RP}/callback`, code_verifier: issued.codeVerifier }),
    );
    expect(redeemed.status).toBe(200);
    expect(redeemed.body.refresh_token).toBeTypeOf('string');

    // Replay detection is shared: the same code at A is refused.
    const replay = await at(A, () =>
      tokenRequest(issuer, web, { grant_type: 'authorization_code', code, redirect_uri: `${RP}/callback`, code_verifier: issued.codeVerifier }),
    );
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    // A fresh grant for the refresh: A issues, B refreshes.
    const second = await at(A, () => authorize(rp, { ua: issued.ua, scope: 'openid profile offline_access', params: { prompt: 'consent' }, consent: 'allow' }));
    const fromA = await at(A, () =>
      tokenRequest(issuer, web, {
        grant_type: 'authorization_code',
        code: second.callback.searchParams.get('code')!,
        redirect_uri: `${RP}/callback`,
        code_verifier: second.codeVerifier,
      }),
    );
    expect(fromA.status).toBe(200);
    const refreshed = await at(B, () => tokenRequest(issuer, web, { grant_type: 'refresh_token', refresh_token: fromA.body.refresh_token as string }));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(fromA.body.refresh_token);

    // B introspects and serves userinfo for tokens A issued.
    const serviceToken = await at(A, () => tokenRequest(issuer, introspector, { grant_type: 'client_credentials', scope: 'notes:read' }));
    expect(serviceToken.status).toBe(200);
    const info = await at(B, () => introspect(issuer, introspector, serviceToken.body.access_token as string));
    expect(info.body).toMatchObject({ active: true, client_id: 'introspector', scope: 'notes:read', iss: issuer });
    const userToken = await at(A, () => tokenRequest(issuer, web, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token as string }));
    expect(userToken.status).toBe(200);
    const claims = await at(B, () => userinfo(issuer, userToken.body.access_token as string));
    expect(claims.status).toBe(200);
    expect(claims.body.sub).toBe(aliceSub);
    expect((await at(B, () => introspect(issuer, web, userToken.body.access_token as string))).body.active).toBe(true);

    // Refresh token rotation is shared too: A's first refresh token, already used at B, is
    // refused at A, and that reuse revokes the grant on every instance.
    const reused = await at(A, () => tokenRequest(issuer, web, { grant_type: 'refresh_token', refresh_token: fromA.body.refresh_token as string }));
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    expect((await at(B, () => introspect(issuer, web, userToken.body.access_token as string))).body.active).toBe(false);
  });

  it('B takes a key rotation made through the CLI without a restart: published first, signing after activation', async () => {
    const jwksAt = async (origin: string) =>
      (await at(origin, () => fetch(`${issuer}/jwks`).then((r) => r.json()))) as { keys: { kid: string; alg: string }[] };
    const serviceTokenAt = async (origin: string) => {
      const res = await at(origin, () => tokenRequest(issuer, service, { grant_type: 'client_credentials', scope: 'things:read' }));
      expect(res.status).toBe(200);
      return res.body.access_token as string;
    };
    const before = await jwksAt(B);
    const k1 = before.keys.find((k) => k.alg === 'RS256')!.kid;
    expect(decodeProtectedHeader(await serviceTokenAt(B)).kid).toBe(k1);

    const rotated = await runCli(['keys', 'rotate', '--propagation', '3600'], { env: { DATABASE_URL: cliDatabaseUrl } });
    expect(rotated).toMatchObject({ code: 0, stderr: '' });
    const k2 = /^new signing key (\S+) \(RS256\): next$/m.exec(rotated.stdout)?.[1];
    expect(k2).toBeTypeOf('string');

    // Published by B within KEY_REFRESH_SECONDS, while B goes on signing with K1.
    const window = await eventually(
      async () => {
        const set = await jwksAt(B);
        return set.keys.some((k) => k.kid === k2) && set;
      },
      { what: `B to publish ${k2!}` },
    );
    const during = await serviceTokenAt(B);
    expect(decodeProtectedHeader(during).kid).toBe(k1);
    const cached = createLocalJWKSet(window);
    await jwtVerify(during, cached, { issuer, audience: API });

    // The propagation delay passes.
    await testDb.db.query('UPDATE keys SET activates_at = now() WHERE activates_at > now()');
    const after = await eventually(
      async () => {
        const token = await serviceTokenAt(B);
        return decodeProtectedHeader(token).kid === k2 && token;
      },
      { what: `B to sign with ${k2!}` },
    );
    // An RP that cached the JWKS during the window verifies the new tokens; K1 is still published.
    await jwtVerify(after, cached, { issuer, audience: API });
    const live = await jwksAt(B);
    expect(live.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([k1, k2]));
    await jwtVerify(during, createLocalJWKSet(live as unknown as JSONWebKeySet), { issuer, audience: API });
  });
});
