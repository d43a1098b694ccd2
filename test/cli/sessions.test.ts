import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout_receiver.js';
import { ALICE, BOB, RP, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { callbackParams, expectRedirect, startAuthorization } from '../support/hosted_pages.js';
import { introspect, tokenRequest, userinfo } from '../support/oauth_requests.js';
import type { UserAgent } from '../support/user_agent.js';
import { expectOneLineError, runCli } from './cli_harness.js';
import { eventually } from '../support/eventually.js';

// Ending sign-ins from outside the protocol: `gatehouse sessions list|revoke`, and
// `users disable|delete`, which sign the user out everywhere. The relying party hears about it
// through a back-channel logout (queued by the CLI, sent by the running server).

const SECRET = 'cli-bcl-secret-0123456789abcdef0123456';
const CALLBACK = `${RP}/bcl/callback`;
const app = { clientId: 'bcl', secret: SECRET };
const CAROL = { username: 'carol', email: 'carol@example.test', name: 'Carol', password: 'carol keeps a very long passphrase' };

let receiver: LogoutReceiver;
let gh: RunningGatehouse;
let rp: oidc.Configuration;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  receiver = await startLogoutReceiver();
  const base = testConfig();
  gh = await startGatehouse({
    config: testConfig({
      clients: [
        ...base.clients,
        {
          ...base.clients.find((c) => c.client_id === 'web')!,
          client_id: 'bcl',
          client_secret: SECRET,
          client_name: 'Back-channel App',
          redirect_uris: [CALLBACK],
          post_logout_redirect_uris: [],
          backchannel_logout_uri: receiver.url,
        },
      ],
    }),
  });
  await gh.createUser(ALICE);
  await gh.createUser(BOB);
  await gh.createUser(CAROL);
  rp = await discover(gh.issuer, 'bcl', SECRET);
  cliEnv = gh.testDb.backend === 'postgres' ? { DATABASE_URL: gh.testDb.databaseUrl } : { DATA_DIR: gh.testDb.dataDir };
});
afterAll(async () => {
  await gh?.close();
  await receiver?.close();
});
beforeEach(() => {
  receiver.deliveries.length = 0;
});

const cli = (...args: string[]) => runCli(args, { env: cliEnv });

async function signInAs(user: { username: string; password: string }) {
  const { ua, tokens } = await signIn(rp, {
    redirectUri: CALLBACK,
    scope: 'openid offline_access',
    params: { prompt: 'consent' },
    credentials: { login: user.username, password: user.password },
    consent: 'allow',
  });
  return { ua, tokens, sid: tokens.claims()!.sid as string, sub: tokens.claims()!.sub };
}

async function stillSignedIn(ua: UserAgent): Promise<boolean> {
  const { landing } = await startAuthorization(rp, { ua, redirectUri: CALLBACK, scope: 'openid', params: { prompt: 'none' } });
  const params = callbackParams(expectRedirect(landing));
  if (params.get('error') === 'login_required') return false;
  expect(params.get('code')).toBeTruthy();
  return true;
}

/** Delivers what the CLI queued, as the running server's retry pass does, and returns the logout tokens' claims. */
async function deliverQueued() {
  await gh.gatehouse.backchannel.deliverDue();
  const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
  return Promise.all(receiver.tokens().map(async (t) => (await jwtVerify(t, jwks, { issuer: gh.issuer, audience: 'bcl', typ: 'logout+jwt' })).payload));
}

async function tableRows(): Promise<{ id: string; applications: string; ip: string; userAgent: string }[]> {
  const listed = await cli('sessions', 'list', 'alice');
  expect(listed.code).toBe(0);
  const [header, ...lines] = listed.stdout.trim().split('\n');
  expect(header).toMatch(/^id\s+signed in\s+last active\s+expires\s+ip\s+applications\s+user agent$/);
  return lines.map((line) => {
    const cells = line.split(/\s{2,}/);
    return { id: cells[0]!, applications: cells[5]!, ip: cells[4]!, userAgent: cells[6]! };
  });
}

describe('gatehouse sessions', () => {
  it("lists a user's sessions with where they came from and which apps they signed in to", async () => {
    expect((await cli('sessions', 'list', 'alice')).stdout).toBe('no active sessions for alice\n');
    await signInAs(ALICE);
    await signInAs(ALICE);
    const rows = await tableRows();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.id).toMatch(/^[\w-]{16}$/);
      expect(row.applications).toBe('bcl');
      expect(row.ip).toMatch(/127\.0\.0\.1/);
      expect(row.userAgent).not.toBe('-');
    }
  });

  it('revokes one session by its id: only that one ends, and its app gets a logout token for it', async () => {
    await cli('sessions', 'revoke', 'alice');
    await deliverQueued(); // what ending the earlier test's sessions owed
    receiver.deliveries.length = 0;
    const first = await signInAs(ALICE);
    const second = await signInAs(ALICE);
    const ids = (await tableRows()).map((r) => r.id);
    expect(ids).toHaveLength(2);

    // Which listed id is the second session: revoke one, see which browser lost its sign-in.
    const revoked = await cli('sessions', 'revoke', ids[0]!);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^session [\w-]{16} ended, 1 back-channel logout queued\n$/);
    const [firstIn, secondIn] = [await stillSignedIn(first.ua), await stillSignedIn(second.ua)];
    expect([firstIn, secondIn].sort()).toEqual([false, true]);
    const gone = firstIn ? second : first;
    const kept = firstIn ? first : second;

    // As at the end-session endpoint, offline access (offline_access refresh tokens) outlives a
    // signed-out session; revoking the user's sessions by name, or disabling them, ends it too.
    expect((await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: gone.tokens.refresh_token! })).status).toBe(200);
    expect((await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: kept.tokens.refresh_token! })).status).toBe(200);

    const claims = await deliverQueued();
    expect(claims).toHaveLength(1);
    expect(claims[0]).toMatchObject({ sub: gone.sub, sid: gone.sid });
    expect(await tableRows()).toHaveLength(1);
  });

  it('revokes every session of a user by username', async () => {
    const a = await signInAs(ALICE);
    const b = await signInAs(ALICE);
    const revoked = await cli('sessions', 'revoke', 'alice');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^alice: \d+ sessions ended, \d+ grants? revoked, \d+ back-channel logouts queued\n$/);
    expect(await stillSignedIn(a.ua)).toBe(false);
    expect(await stillSignedIn(b.ua)).toBe(false);
    expect((await introspect(gh.issuer, app, a.tokens.access_token)).body.active).toBe(false);
    const claims = await deliverQueued();
    expect(claims.map((c) => c.sid)).toEqual(expect.arrayContaining([a.sid, b.sid]));
    expect((await cli('sessions', 'list', 'alice')).stdout).toBe('no active sessions for alice\n');
  });

  it('refuses unknown users and session ids with one line and exit 1', async () => {
    expectOneLineError(await cli('sessions', 'list', 'nobody'), /no user named "nobody"/);
    expectOneLineError(await cli('sessions', 'revoke', 'nobody'), /no user "nobody"/);
    expectOneLineError(await cli('sessions', 'revoke', 'zzzzzzzzzzzzzzzz'), /no user or session "zzzzzzzzzzzzzzzz"/);
    // Listed ids are base64url and may start with '-': still an id, not an option.
    expectOneLineError(await cli('sessions', 'revoke', '-zzzzzzzzzzzzzzz'), /no user or session "-zzzzzzzzzzzzzzz"/);
    expectOneLineError(await cli('sessions', 'revoke'), /missing required argument/);
  });
});

describe("gatehouse users disable|delete end the user's sign-ins everywhere", () => {
  it('disable: sessions end, grants and tokens are revoked, apps are told', async () => {
    const bob = await signInAs(BOB);
    const disabled = await cli('users', 'disable', 'bob');
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toMatch(/^bob is disabled; 1 session ended, 1 grant revoked, 1 back-channel logout queued\n$/);
    expect(await stillSignedIn(bob.ua)).toBe(false);
    expect((await introspect(gh.issuer, app, bob.tokens.access_token)).body.active).toBe(false);
    expect((await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: bob.tokens.refresh_token! })).body.error).toBe('invalid_grant');
    const claims = await deliverQueued();
    expect(claims).toEqual([expect.objectContaining({ sub: bob.sub, sid: bob.sid })]);
    expect((await cli('users', 'enable', 'bob')).stdout).toBe('bob is enabled\n');
  });

  it('delete: the same, and the user is gone', async () => {
    const bob = await signInAs(BOB);
    const deleted = await cli('users', 'delete', 'bob');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted bob \([\w-]+\); 1 session ended, 1 grant revoked, 1 back-channel logout queued\n$/);
    expect(await stillSignedIn(bob.ua)).toBe(false);
    expect((await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: bob.tokens.refresh_token! })).body.error).toBe('invalid_grant');
    expect(await deliverQueued()).toEqual([expect.objectContaining({ sub: bob.sub, sid: bob.sid })]);
    const { rowCount } = await gh.testDb.db.query(`SELECT 1 FROM oidc_models WHERE account_id = $1`, [bob.sub]);
    expect(rowCount).toBe(0);
  });
});

describe('gatehouse users set-password evicts whoever held the old password (issue #10)', () => {
  it('ends every session, revokes every grant (offline_access too) with its tokens, and queues the logouts', async () => {
    // The thief signed in with the stolen password in two browsers and kept an offline refresh token.
    const thief = await signInAs(CAROL);
    const other = await signInAs(CAROL);
    expect((await userinfo(gh.issuer, thief.tokens.access_token)).status).toBe(200);

    const reset = await runCli(['users', 'set-password', 'carol', '--password-stdin'], { env: cliEnv, stdin: 'a brand new passphrase for carol\n' });
    expect(reset.code).toBe(0);
    expect(reset.stdout).toBe('password changed for carol; 2 sessions ended, 2 grants revoked, 2 back-channel logouts queued\n');

    const refreshed = await tokenRequest(gh.issuer, app, { grant_type: 'refresh_token', refresh_token: thief.tokens.refresh_token! });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    // The server read this token before (above): its cache drops it when the database's
    // announcement of the CLI's revocation arrives, a moment after the CLI's commit (README "Caches").
    await eventually(async () => (await userinfo(gh.issuer, thief.tokens.access_token)).status === 401 || undefined, {
      timeoutMs: 3_000,
      what: 'the revocation made by the CLI to reach the server',
    });
    expect((await userinfo(gh.issuer, thief.tokens.access_token)).status).toBe(401);
    expect((await introspect(gh.issuer, app, thief.tokens.access_token)).body).toEqual({ active: false });
    expect(await stillSignedIn(thief.ua)).toBe(false);
    expect(await stillSignedIn(other.ua)).toBe(false);
    const claims = await deliverQueued();
    expect(claims.map((c) => c.sid).sort()).toEqual([thief.sid, other.sid].sort());
    expect(claims.every((c) => c.sub === thief.sub)).toBe(true);

    const { rows } = await gh.testDb.db.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE event = 'user.password_set' AND account_id = $1`,
      [thief.sub],
    );
    expect(rows.map((r) => r.details)).toEqual([{ actor: 'cli', sessions_ended: 2, grants_revoked: 2, logouts: 2 }]);
  });
});
