import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open_db.js';
import { lockPath, type LockInfo } from '../../src/db/embedded_lock.js';
import { createUsersRepo } from '../../src/accounts/users_repo.js';
import { createTestDb, type Backend } from '../support/test_db.js';
import { availableBackends } from '../support/storage_backends.js';
import { ALICE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization } from '../support/hosted_pages.js';
import { freePort, spawnGatehouse, type SpawnedGatehouse } from '../support/spawn_gatehouse.js';

// Issue 4, point 6: a server killed with SIGKILL (an OOM kill, a lost node) in the middle of
// sign-ins loses nothing it had committed. Restarted on the same database and port, the
// browser's session still signs in without a password, a sign-in left at the consent page
// carries on, an issued code still redeems, the refresh token refreshes and the earlier access
// token is still active. On the embedded database this also shows the lock and socket the
// killed process left behind are taken over.

const web = { clientId: 'web', secret: SECRETS.web };
const alice = { login: ALICE.username, password: ALICE.password };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function prepare(backend: Backend) {
  const testDb = await createTestDb(backend, { open: false });
  cleanups.push(() => testDb.drop());
  const configFile = path.join(testDb.dataDir, 'gatehouse.config.json');
  await writeFile(configFile, JSON.stringify(testConfig()));
  const env = { CONFIG_FILE: configFile, ...(backend === 'postgres' ? { DATABASE_URL: testDb.databaseUrl } : { DATA_DIR: testDb.dataDir }) };
  const port = await freePort();
  const start = async () => {
    const server = await spawnGatehouse({ env, port });
    cleanups.push(() => server.kill());
    return server;
  };
  return { testDb, start };
}

async function killHard(server: SpawnedGatehouse): Promise<void> {
  server.child.kill('SIGKILL');
  expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

describe.each(availableBackends())('SIGKILL on %s', (backend) => {
  it('a restarted server has every session, interaction, code, grant and token committed before the kill', { timeout: 120_000 }, async () => {
    const { testDb, start } = await prepare(backend);
    let server = await start();
    // Alice is added beside the running server (on the embedded database, through its socket).
    const db = await openDb({ databaseUrl: testDb.databaseUrl || undefined, dataDir: testDb.dataDir, poolSize: 1, role: 'cli' });
    const sub = await createUsersRepo(db)
      .create(ALICE)
      .then((user) => user.sub)
      .finally(() => db.close());
    const rp = await discover(server.issuer, 'web', SECRETS.web);

    // 1. Killed right after a token response.
    const first = await signIn(rp, { scope: 'openid profile offline_access', params: { prompt: 'consent' }, credentials: alice, consent: 'allow' });
    const killedPid = server.child.pid;
    await killHard(server);
    let leftBehind: LockInfo | undefined;
    if (backend === 'embedded') {
      leftBehind = JSON.parse(await readFile(lockPath(testDb.dataDir), 'utf8')) as LockInfo;
      expect(leftBehind).toMatchObject({ pid: killedPid, role: 'server', socketDir: expect.any(String) });
    }
    server = await start();
    if (leftBehind) {
      expect(JSON.parse(await readFile(lockPath(testDb.dataDir), 'utf8'))).toMatchObject({ pid: server.child.pid });
      await expect(stat(leftBehind.socketDir!)).rejects.toMatchObject({ code: 'ENOENT' });
    }

    const refreshed = await tokenRequest(server.issuer, web, { grant_type: 'refresh_token', refresh_token: first.tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect(refreshed.body.refresh_token).not.toBe(first.tokens.refresh_token);
    expect((await introspect(server.issuer, web, first.tokens.access_token)).body).toMatchObject({ active: true, sub, client_id: 'web' });
    expect((await userinfo(server.issuer, first.tokens.access_token)).body).toMatchObject({ sub, name: ALICE.name });
    const silent = expectRedirect((await startAuthorization(rp, { ua: first.ua, scope: 'openid profile', params: { prompt: 'none' } })).landing);
    expect(silent.searchParams.get('code')).toEqual(expect.any(String));

    // 2. Killed after the login, at the consent page; then again once the code is issued.
    const second = await startAuthorization(rp, { scope: 'openid email', params: { prompt: 'consent' } });
    const login = expectPage(second.landing);
    expect(pageKind(login)).toBe('login');
    const consent = expectPage(await second.ua.submit(login, LOGIN_FORM, alice, RP));
    expect(pageKind(consent)).toBe('consent');
    await killHard(server);
    server = await start();
    const callback = expectRedirect(await second.ua.submit(consent, CONSENT_FORM, {}, RP));
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    await killHard(server);
    server = await start();
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: second.codeVerifier,
      expectedState: second.state,
      expectedNonce: second.nonce,
    });
    expect(tokens.claims()?.sub).toBe(sub);
    expect((await userinfo(server.issuer, tokens.access_token)).body).toMatchObject({ sub, email: ALICE.email });
    // The session begun before the first of those kills signs in without the login form.
    const again = expectRedirect((await startAuthorization(rp, { ua: second.ua, scope: 'openid email' })).landing);
    expect(again.searchParams.get('code')).toEqual(expect.any(String));

    expect(server.logs().filter((l) => (l.level as number) >= 50)).toEqual([]);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

describe('the embedded database after a crash', () => {
  it("takes over a lock naming this very pid (a restarted container's main process) and removes the dead socket", async () => {
    const testDb = await createTestDb('embedded', { open: false });
    cleanups.push(() => testDb.drop());
    const deadSocket = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-db-'));
    await writeFile(lockPath(testDb.dataDir), JSON.stringify({ pid: process.pid, socketDir: deadSocket, role: 'server' }));

    const db = await openDb({ databaseUrl: undefined, dataDir: testDb.dataDir, poolSize: 1, role: 'server' });
    try {
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await expect(stat(deadSocket)).rejects.toMatchObject({ code: 'ENOENT' });
      // The lock is now this process's own: opening the directory twice is still refused.
      await expect(openDb({ databaseUrl: undefined, dataDir: testDb.dataDir, poolSize: 1, role: 'server' })).rejects.toThrow(/already open in this process/);
    } finally {
      await db.close();
    }
  });
});
