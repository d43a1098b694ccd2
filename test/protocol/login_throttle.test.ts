import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open_db.js';
import { lockPath, type LockInfo } from '../../src/db/embedded_lock.js';
import type { Db } from '../../src/db/db.js';
import { loadThrottleKeys, type ThrottleSubject } from '../../src/throttling/throttle_keys.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { runCli } from '../cli/cli_harness.js';
import { availableBackends } from '../support/storage_backends.js';
import type { TestDb } from '../support/test_db.js';
import { ALICE, BOB, RP, SECRETS } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';

// Brute-force protection on the hosted login, over HTTP: failures per account and per client IP
// are counted in the database; at the limit the account (or IP) is locked for a while, and a
// locked attempt gets 429 with Retry-After and a plain message, without its password checked.

const FP_CALLBACK = `${RP}/fp/callback`;
const CAROL = { username: 'carol', email: 'carol@example.test', name: 'Carol', password: 'carol has a long password' };
const LOCKED_MESSAGE = /^Too many failed sign-ins\. Try again in 1 minute\.$/;

/** A browser behind a reverse proxy that reports its address in X-Forwarded-For. */
class ForwardedUserAgent extends UserAgent {
  constructor(private readonly ip: string) {
    super();
  }
  override request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'x-forwarded-for': this.ip, ...init.headers } });
  }
}

async function signInAs(rp: oidc.Configuration, login: string, password: string, ua?: UserAgent) {
  const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK, ...(ua ? { ua } : {}) });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return started.ua.submit(page, LOGIN_FORM, { login, password }, RP);
}

async function expectSignedIn(result: Awaited<ReturnType<typeof signInAs>>): Promise<void> {
  expect(callbackParams(expectRedirect(result)).get('code')).toBeTruthy();
}

function expectRefused(result: Awaited<ReturnType<typeof signInAs>>, status: 401 | 429): Page {
  const page = expectPage(result);
  expect(page.status).toBe(status);
  expect(pageKind(page)).toBe('login');
  return page;
}

/** A 429 page that says, in words and in Retry-After, when to come back. */
function expectLockedPage(result: Awaited<ReturnType<typeof signInAs>>, lockoutSeconds: number): Page {
  const page = expectRefused(result, 429);
  const retryAfter = Number(page.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(lockoutSeconds);
  expect(page.$('[role="alert"]').text().trim()).toMatch(LOCKED_MESSAGE);
  return page;
}

const events = (gh: RunningGatehouse, event: string) => gh.logs.filter((line) => line.event === event);
// Attempts refused while locked out (the password unchecked) are failures with reason locked_out.
const throttled = (gh: RunningGatehouse) => events(gh, 'login.failure').filter((line) => line.reason === 'locked_out');
const failures = (gh: RunningGatehouse) => events(gh, 'login.failure').filter((line) => line.reason !== 'locked_out');

/** The account counter's row key, as the server computes it (an HMAC under the database's secret). */
async function accountRowKey(gh: RunningGatehouse, subject: ThrottleSubject | { username: string }): Promise<string> {
  const keys = await loadThrottleKeys(gh.testDb.db);
  if ('username' in subject) {
    const { rows } = await gh.testDb.db.query<{ sub: string }>('SELECT sub::text FROM users WHERE username = $1', [subject.username]);
    return `account:${keys.account({ sub: rows[0]!.sub })}`;
  }
  return `account:${keys.account(subject)}`;
}

async function limitRow(gh: RunningGatehouse, key: string) {
  const { rows } = await gh.testDb.db.query<{ points: number; expire: string }>('SELECT points, expire FROM login_limits WHERE key = $1', [key]);
  return rows[0] ? { points: rows[0].points, msLeft: Number(rows[0].expire) - Date.now() } : undefined;
}

async function metric(issuer: string, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${issuer}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('per-account lockout', () => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    ({ gh } = await startGatehouseWithUsers([ALICE, BOB, CAROL], {
      env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_LOCKOUT_SECONDS: '60', LOGIN_FAILURE_WINDOW_SECONDS: '600' },
    }));
    rp = await rpFor(gh, 'first-party');
  });
  afterAll(() => gh?.close());

  it('locks an account on its third failure; the next attempt, even with the right password, gets 429 unchecked', async () => {
    expectRefused(await signInAs(rp, ALICE.username, 'wrong password one'), 401);
    expectRefused(await signInAs(rp, ALICE.username, 'wrong password two'), 401);
    // The failure that reaches the limit already says so.
    expectLockedPage(await signInAs(rp, ALICE.username, 'wrong password three'), 60);

    const alice = (await gh.testDb.db.query<{ sub: string }>(`SELECT sub FROM users WHERE username = 'alice'`)).rows[0]!;
    expect(events(gh, 'login.locked')).toEqual([expect.objectContaining({ reason: 'account', sub: alice.sub, level: 40 })]);

    const failuresBefore = failures(gh).length;
    const throttledBefore = throttled(gh).length;
    const page = expectLockedPage(await signInAs(rp, ALICE.username, ALICE.password), 60);
    expect(page.$(`${LOGIN_FORM} input[name="login"]`).attr('value')).toBe(ALICE.username);
    // Refused before the password was verified: a locked_out failure, and no other failure or success.
    expect(throttled(gh).slice(throttledBefore)).toEqual([expect.objectContaining({ reason: 'locked_out', scope: 'account' })]);
    expect(failures(gh)).toHaveLength(failuresBefore);
    expect(events(gh, 'login.success')).toHaveLength(0);

    // The lock is a row in the shared table, keyed by the login (hashed), ending within the lockout.
    const row = await limitRow(gh, await accountRowKey(gh, { username: ALICE.username }));
    expect(row).toBeDefined();
    expect(row!.points).toBeGreaterThan(3);
    expect(row!.msLeft).toBeGreaterThan(0);
    expect(row!.msLeft).toBeLessThanOrEqual(60_000);
    // The same login in another case, with spaces around it, is the same account.
    expectLockedPage(await signInAs(rp, `  ${ALICE.username.toUpperCase()} `, ALICE.password), 60);
    expect(gh.rawLogs()).not.toContain('wrong password');
    expect(gh.rawLogs()).not.toContain(ALICE.password);
  });

  it('counts the account, not the spelling: a look-alike the lookup folds to alice, or her email, is still locked (issue #10)', async () => {
    // Postgres lower() folds 'İ' (U+0130) to 'i', so 'alİce' names alice; JavaScript's
    // toLowerCase() makes 'i̇' of it, which once keyed a counter of its own.
    expect('alİce'.toLowerCase()).not.toBe(ALICE.username);
    for (const login of ['alİce', 'ALİCE', ALICE.email, ALICE.email.toUpperCase()]) {
      expectLockedPage(await signInAs(rp, login, ALICE.password), 60);
    }
    expect(events(gh, 'login.success')).toHaveLength(0);
  });

  it('keys the rows by an HMAC under the database secret, never a bare hash of what was typed (issue #10)', async () => {
    const typed = 'Hunter2-typed-into-the-username-field';
    expectRefused(await signInAs(rp, typed, 'whatever'), 401);
    const { rows } = await gh.testDb.db.query<{ key: string }>(`SELECT key FROM login_limits WHERE key LIKE 'account:%'`);
    const bare = createHash('sha256').update(typed.toLowerCase()).digest('base64url');
    expect(rows.map((r) => r.key)).not.toContain(`account:${bare}`);
    expect(rows.map((r) => r.key)).toContain(await accountRowKey(gh, { login: typed.toLowerCase() }));
    expect(rows.every((r) => !r.key.toLowerCase().includes('hunter2'))).toBe(true);
    const secrets = await gh.testDb.db.query<{ n: number }>(`SELECT octet_length(secret) AS n FROM server_secrets WHERE name = 'throttle_keys'`);
    expect(secrets.rows).toEqual([{ n: 32 }]);
  });

  it('lifts a lockout with `gatehouse users unlock`', async () => {
    expectLockedPage(await signInAs(rp, ALICE.username, ALICE.password), 60);
    const env: Record<string, string> = gh.testDb.backend === 'postgres' ? { DATABASE_URL: gh.testDb.databaseUrl } : { DATA_DIR: gh.testDb.dataDir };
    const unlocked = await runCli(['users', 'unlock', 'ALICE'], { env });
    expect(unlocked).toEqual({ code: 0, stdout: 'alice: failed sign-ins forgotten, any lockout lifted\n', stderr: '' });
    await expectSignedIn(await signInAs(rp, 'alİce', ALICE.password));
    expect((await runCli(['users', 'unlock', 'alice'], { env })).stdout).toBe('alice had no failed sign-ins to forget\n');
    expect((await runCli(['users', 'unlock', 'nobody'], { env })).code).toBe(1);
    // Locked again for the tests below.
    for (const guess of ['wrong a', 'wrong b', 'wrong c']) await signInAs(rp, ALICE.username, guess);
    expectLockedPage(await signInAs(rp, ALICE.username, ALICE.password), 60);
  });

  it('does not lock another user signing in from the same IP', async () => {
    await expectSignedIn(await signInAs(rp, BOB.username, BOB.password));
  });

  it('counts an unknown login exactly like a real one, so a lockout reveals nothing', async () => {
    const real = expectLockedPage(await signInAs(rp, ALICE.username, 'whatever'), 60);
    expectRefused(await signInAs(rp, 'nobody-by-this-name', 'guess one'), 401);
    expectRefused(await signInAs(rp, 'nobody-by-this-name', 'guess two'), 401);
    expectLockedPage(await signInAs(rp, 'nobody-by-this-name', 'guess three'), 60);
    const unknown = expectLockedPage(await signInAs(rp, 'nobody-by-this-name', 'guess four'), 60);
    expect(visibleText(unknown).replace('nobody-by-this-name', 'X')).toBe(visibleText(real).replace(ALICE.username, 'X'));
    expect(await limitRow(gh, await accountRowKey(gh, { login: 'nobody-by-this-name' }))).toBeDefined();
  });

  it('starts the count again after a successful sign-in', async () => {
    const key = await accountRowKey(gh, { username: CAROL.username });
    expectRefused(await signInAs(rp, CAROL.username, 'not it'), 401);
    expectRefused(await signInAs(rp, CAROL.username, 'not it either'), 401);
    expect((await limitRow(gh, key))?.points).toBe(2);
    await expectSignedIn(await signInAs(rp, CAROL.username, CAROL.password));
    expect(await limitRow(gh, key)).toBeUndefined();

    // Two more failures would have made four without the reset: still only the ordinary answer.
    expectRefused(await signInAs(rp, CAROL.username, 'still not it'), 401);
    expectRefused(await signInAs(rp, CAROL.username, 'nor this'), 401);
    await expectSignedIn(await signInAs(rp, CAROL.username, CAROL.password));
  });

  it('counts each lockout that started in /metrics', async () => {
    // alice (twice: locked again after `users unlock`) and the unknown login above
    expect(await metric(gh.issuer, 'gatehouse_lockouts_total', 'scope="account"')).toBe(3);
    expect(await metric(gh.issuer, 'gatehouse_lockouts_total', 'scope="ip"')).toBe(0);
    expect(await metric(gh.issuer, 'gatehouse_sign_ins_total', 'outcome="throttled"')).toBe(throttled(gh).length);
  });
});

describe('per-IP lockout', () => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    ({ gh } = await startGatehouseWithUsers([ALICE, BOB], {
      env: { LOGIN_MAX_FAILURES_PER_IP: '4', LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', LOGIN_LOCKOUT_SECONDS: '60', TRUST_PROXY: 'true' },
    }));
    rp = await rpFor(gh, 'first-party');
  });
  afterAll(() => gh?.close());

  it('locks a client that sprays guesses across several usernames, and no one else', async () => {
    const sprayer = () => new ForwardedUserAgent('203.0.113.7');
    expectRefused(await signInAs(rp, 'admin', 'password1', sprayer()), 401);
    expectRefused(await signInAs(rp, 'root', 'password1', sprayer()), 401);
    expectRefused(await signInAs(rp, ALICE.username, 'password1', sprayer()), 401);
    expectLockedPage(await signInAs(rp, 'test', 'password1', sprayer()), 60);
    expect(events(gh, 'login.locked')).toEqual([expect.objectContaining({ reason: 'ip', ip: '203.0.113.7' })]);
    expect(await limitRow(gh, 'ip:203.0.113.7')).toBeDefined();

    // From that address nobody gets in, unchecked, even with the right password...
    const failuresBefore = failures(gh).length;
    expectLockedPage(await signInAs(rp, BOB.username, BOB.password, sprayer()), 60);
    expect(throttled(gh).at(-1)).toMatchObject({ reason: 'locked_out', scope: 'ip' });
    expect(failures(gh)).toHaveLength(failuresBefore);
    // ...while the accounts it guessed at are not locked for anyone else.
    await expectSignedIn(await signInAs(rp, ALICE.username, ALICE.password, new ForwardedUserAgent('198.51.100.2')));
    await expectSignedIn(await signInAs(rp, BOB.username, BOB.password, new ForwardedUserAgent('198.51.100.2')));
    expect(await metric(gh.issuer, 'gatehouse_lockouts_total', 'scope="ip"')).toBe(1);
    expect(await metric(gh.issuer, 'gatehouse_lockouts_total', 'scope="account"')).toBe(0);
  });

  it('counts an IPv6 client by its /64, so changing the low bits does not escape the limit', async () => {
    for (const host of ['a', 'b', 'c', 'd']) {
      const result = await signInAs(rp, `user-${host}`, 'password1', new ForwardedUserAgent(`2001:db8:1:2::${host}`));
      expect(expectPage(result).status).toBe(host === 'd' ? 429 : 401);
    }
    expectLockedPage(await signInAs(rp, BOB.username, BOB.password, new ForwardedUserAgent('2001:db8:1:2:ffff:ffff:ffff:ffff')), 60);
    expect(await limitRow(gh, 'ip:2001:db8:1:2::/64')).toBeDefined();
    await expectSignedIn(await signInAs(rp, BOB.username, BOB.password, new ForwardedUserAgent('2001:db8:1:3::a')));
  });
});

describe('parallel guesses from one address (issue #10)', () => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;
  const LIMIT = 8;

  beforeAll(async () => {
    gh = await startGatehouse({ env: { LOGIN_MAX_FAILURES_PER_IP: String(LIMIT), LOGIN_MAX_FAILURES_PER_ACCOUNT: '100', LOGIN_LOCKOUT_SECONDS: '60' } });
    rp = await rpFor(gh, 'first-party');
  });
  afterAll(() => gh?.close());

  it(`checks at most ${LIMIT} passwords when 40 attempts on 40 logins arrive at once`, async () => {
    // Each attempt has its own sign-in (form and CSRF token), all opened first, then posted together.
    const pages = [];
    for (let i = 0; i < 40; i++) {
      const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
      pages.push({ ua: started.ua, page: expectPage(started.landing) });
    }
    const results = await Promise.all(
      pages.map(({ ua, page }, i) => ua.submit(page, LOGIN_FORM, { login: `sprayed-${i}`, password: `guess number ${i}` }, RP)),
    );
    const statuses = results.map((r) => expectPage(r).status);
    // Every password checked was wrong, and each check left one bad_credentials failure.
    expect(failures(gh).length).toBeLessThanOrEqual(LIMIT);
    expect(failures(gh).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(40 - LIMIT);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // And the address stays locked afterwards.
    expectLockedPage(await signInAs(rp, 'one-more', 'guess'), 60);
  });
});

/**
 * A second connection pool on a test database, as another process would have: to the same
 * Postgres database, or (like a cluster worker) through the socket the embedded one is served on.
 */
async function secondPool(testDb: TestDb): Promise<Db> {
  if (testDb.backend === 'postgres') return openDb({ databaseUrl: testDb.databaseUrl, dataDir: testDb.dataDir, poolSize: 3, role: 'server' });
  const { socketDir } = JSON.parse(await readFile(lockPath(testDb.dataDir), 'utf8')) as LockInfo;
  expect(socketDir).toBeTruthy();
  return openDb({ databaseUrl: undefined, dataDir: testDb.dataDir, poolSize: 3, role: 'server', embeddedSocketDir: socketDir! });
}

describe.each(availableBackends())('lockouts shared by instances on %s', (backend) => {
  let first: RunningGatehouse;
  let second: RunningGatehouse;
  const env = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_LOCKOUT_SECONDS: '60' };

  beforeAll(async () => {
    first = await startGatehouse({ backend, env });
    await first.createUser(ALICE);
    await first.createUser(BOB);
    const db = await secondPool(first.testDb);
    second = await startGatehouse({ testDb: { ...first.testDb, db, drop: async () => undefined }, env });
  });
  afterAll(async () => {
    await second?.close();
    await second?.testDb.db.close();
    await first?.close();
  });

  it('refuses on one instance an account locked by failures on the other', async () => {
    const onFirst = await discover(first.issuer, 'first-party', SECRETS.firstParty);
    const onSecond = await discover(second.issuer, 'first-party', SECRETS.firstParty);
    expectRefused(await signInAs(onFirst, ALICE.username, 'wrong one'), 401);
    expectRefused(await signInAs(onSecond, ALICE.username, 'wrong two'), 401);
    expectLockedPage(await signInAs(onFirst, ALICE.username, 'wrong three'), 60);

    expectLockedPage(await signInAs(onSecond, ALICE.username, ALICE.password), 60);
    expect(throttled(second)).toEqual([expect.objectContaining({ reason: 'locked_out', scope: 'account' })]);
    expect(failures(second)).toHaveLength(1);
    await expectSignedIn(await signInAs(onSecond, BOB.username, BOB.password));

    // Each instance counts what it saw: the lockout started on the first, a refusal on the second.
    expect(await metric(first.issuer, 'gatehouse_lockouts_total', 'scope="account"')).toBe(1);
    expect(await metric(second.issuer, 'gatehouse_lockouts_total', 'scope="account"')).toBe(0);
    expect(await metric(second.issuer, 'gatehouse_sign_ins_total', 'outcome="throttled"')).toBe(1);
  });
});
