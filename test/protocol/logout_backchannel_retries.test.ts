import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout_receiver.js';
import { ALICE, RP, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { isPage, type UserAgent } from '../support/user_agent.js';
import { expectRedirect, type Landing } from '../support/hosted_pages.js';
import { createTestDb, type TestDb } from '../support/test_db.js';
import { migrate } from '../../src/db/migrate.js';

// Back-channel logout that does not give up on the first failure: a notice is stored before it
// is sent, a slow or failing relying party never holds the user's sign-out for long, failed
// notices are retried with backoff (by this or another instance, after a restart too), and a
// notice that keeps failing is eventually dropped with an error in the log.

const SECRET = 'bcl-retry-secret-0123456789abcdef012345';
const CALLBACK = `${RP}/bcl/callback`;
const SIGNED_OUT = `${RP}/bcl/signed-out`;

let receiver: LogoutReceiver;
let testDb: TestDb;

function config() {
  const base = testConfig();
  return testConfig({
    clients: [
      ...base.clients,
      {
        ...base.clients.find((c) => c.client_id === 'web')!,
        client_id: 'bcl',
        client_secret: SECRET,
        client_name: 'Back-channel App',
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [SIGNED_OUT],
        backchannel_logout_uri: receiver.url,
      },
    ],
  });
}

const start = (env: Record<string, string> = {}) =>
  startGatehouse({ testDb, config: config(), env: { BACKCHANNEL_RETRY_SECONDS: '1', BACKCHANNEL_MAX_ATTEMPTS: '3', ...env } });

beforeAll(async () => {
  receiver = await startLogoutReceiver();
  testDb = await createTestDb();
  await migrate(testDb.db); // a fresh Postgres database starts empty
});
afterAll(async () => {
  await receiver?.close();
  await testDb?.drop();
});
beforeEach(async () => {
  receiver.mode = 'ok';
  receiver.deliveries.length = 0;
  await testDb.db.query('DELETE FROM backchannel_logouts');
});

async function signInAndOut(gh: RunningGatehouse): Promise<{ sub: string; sid: string; back: URL }> {
  if (!(await gh.testDb.db.query(`SELECT 1 FROM users WHERE username = 'alice'`)).rowCount) await gh.createUser(ALICE);
  const rp = await discover(gh.issuer, 'bcl', SECRET);
  const { ua, tokens } = await signIn(rp, { redirectUri: CALLBACK, credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
  const back = await logOut(ua, rp, tokens.id_token!);
  const claims = tokens.claims()!;
  return { sub: claims.sub, sid: claims.sid as string, back };
}

async function logOut(ua: UserAgent, rp: oidc.Configuration, idToken: string): Promise<URL> {
  const url = oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' });
  let landing: Landing = await ua.follow(url.href, {}, RP);
  if (isPage(landing) && landing.$('button[name="logout"]').length) {
    landing = await ua.submit(landing, 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' });
  }
  return expectRedirect(landing);
}

type QueuedRow = { client_id: string; sub: string; sid: string; attempts: number; last_error: string; due_in: number };
async function queued(): Promise<QueuedRow[]> {
  const { rows } = await testDb.db.query<QueuedRow>(
    `SELECT client_id, sub, sid, attempts, last_error, extract(epoch FROM next_attempt_at - now())::float8 AS due_in FROM backchannel_logouts ORDER BY id`,
  );
  return rows;
}

async function makeDue(): Promise<void> {
  await testDb.db.query(`UPDATE backchannel_logouts SET next_attempt_at = now()`);
}

describe('back-channel logout queue', () => {
  it('keeps nothing queued once the relying party acknowledged the notice', async () => {
    const gh = await start();
    try {
      const { sub, sid, back } = await signInAndOut(gh);
      expect(back.origin + back.pathname).toBe(SIGNED_OUT);
      expect(receiver.deliveries).toHaveLength(1);
      const { payload } = await jwtVerify(receiver.tokens()[0]!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), {
        issuer: gh.issuer,
        audience: 'bcl',
        typ: 'logout+jwt',
      });
      expect(payload).toMatchObject({ sub, sid });
      expect(await queued()).toEqual([]);
    } finally {
      await gh.close();
    }
  });

  it('does not hold the sign-out for a relying party that never answers, and delivers the notice later', async () => {
    const gh = await start();
    try {
      receiver.mode = 'hang';
      const started = Date.now();
      const { sub, sid, back } = await signInAndOut(gh);
      const took = Date.now() - started;
      expect(back.searchParams.get('state')).toBe('bye');
      // The sign-out waited at most the request timeout (2.5 s) for the dead RP, plus the sign-in itself.
      expect(took).toBeLessThan(8_000);
      const [row] = await queued();
      expect(row).toMatchObject({ client_id: 'bcl', sub, sid, attempts: 1 });
      expect(row!.last_error).toMatch(/abort|timeout/i);
      expect(row!.due_in).toBeGreaterThan(0);
      expect(gh.logs.some((l) => l.event === 'backchannel.retry_scheduled' && l.client_id === 'bcl')).toBe(true);

      receiver.mode = 'ok';
      expect(await gh.gatehouse.backchannel.deliverDue()).toEqual({ delivered: 0, failed: 0 }); // not due yet
      await makeDue();
      expect(await gh.gatehouse.backchannel.deliverDue()).toEqual({ delivered: 1, failed: 0 });
      expect(receiver.deliveries).toHaveLength(1);
      expect(await queued()).toEqual([]);
      expect(gh.logs.filter((l) => l.event === 'backchannel.success' && l.client_id === 'bcl')).toHaveLength(1);
    } finally {
      await gh.close();
    }
  });

  it('backs off exponentially and finally gives up, saying so in the log', async () => {
    const gh = await start();
    try {
      receiver.mode = 'fail';
      await signInAndOut(gh);
      let [row] = await queued();
      expect(row).toMatchObject({ attempts: 1 });
      expect(row!.last_error).toMatch(/503/);
      expect(row!.due_in).toBeGreaterThan(0.5);
      expect(row!.due_in).toBeLessThanOrEqual(1);

      await makeDue();
      expect(await gh.gatehouse.backchannel.deliverDue()).toEqual({ delivered: 0, failed: 1 });
      [row] = await queued();
      expect(row).toMatchObject({ attempts: 2 });
      expect(row!.due_in).toBeGreaterThan(1.5); // twice the first delay
      expect(row!.due_in).toBeLessThanOrEqual(2);

      await makeDue();
      expect(await gh.gatehouse.backchannel.deliverDue()).toEqual({ delivered: 0, failed: 1 });
      expect(await queued()).toEqual([]); // BACKCHANNEL_MAX_ATTEMPTS=3
      expect(gh.logs.some((l) => l.event === 'backchannel.gave_up' && l.client_id === 'bcl' && l.attempts === 3)).toBe(true);
      expect(receiver.deliveries).toHaveLength(0);
    } finally {
      await gh.close();
    }
  });

  it('loses no pending notice across a restart: the next instance delivers it', async () => {
    const first = await start();
    let sub: string;
    try {
      receiver.mode = 'fail';
      ({ sub } = await signInAndOut(first));
      expect(await queued()).toHaveLength(1);
    } finally {
      await first.close();
    }

    receiver.mode = 'ok';
    const second = await start();
    try {
      await makeDue();
      expect(await second.gatehouse.backchannel.deliverDue()).toEqual({ delivered: 1, failed: 0 });
      const { payload } = await jwtVerify(receiver.tokens()[0]!, createRemoteJWKSet(new URL(`${second.issuer}/jwks`)), { audience: 'bcl', typ: 'logout+jwt' });
      expect(payload.sub).toBe(sub);
      expect(await queued()).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
