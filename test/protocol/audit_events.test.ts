import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { rpFor } from '../support/factories.js';
import { availableBackends } from '../support/storage_backends.js';
import { ALICE, BOB, RP, SECRETS } from '../support/fixtures.js';
import { authorize, oidc } from '../support/relying_party.js';
import { UserAgent } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, expectRedirect, pageKind, startAuthorization } from '../support/hosted_pages.js';
import { revoke, tokenRequest } from '../support/oauth_requests.js';
import { eventually } from '../support/eventually.js';
import { runCli } from '../cli/cli_harness.js';
import type { AuditRow } from '../../src/audit/audit_log.js';
import { pruneAuditEvents } from '../../src/audit/audit_log.js';
import { createAccountActions } from '../../src/account_page/account_actions.js';
import { createAccountSessions } from '../../src/storage/account_sessions.js';

// The audit trail, after the real flows: each event is a row of audit_events with the right
// account, client, address and details (and a log line of the same name), and no row holds a
// password, secret, code, token or cookie.

const USER_AGENT = 'AuditTest/1.0';
const DAVE = { username: 'dave', email: 'dave@example.test', name: 'Dave', password: 'dave has a long passphrase too' };
const CAROL_PASSWORD = 'purple elephants dance at midnight 42';
const CAROL_NEW_PASSWORD = 'seven green herons fishing at dawn 19';
// A login nobody has: it must never be stored as typed (it might be a password).
const UNKNOWN_LOGIN = 'typed-into-the-wrong-field-Xq7';

/** A browser with a recognisable User-Agent. */
class NamedAgent extends UserAgent {
  override request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'user-agent': USER_AGENT, ...init.headers } });
  }
}

describe.each(availableBackends())('audit trail on %s', (backend) => {
  let gh: RunningGatehouse;
  let web: oidc.Configuration;
  let firstParty: oidc.Configuration;
  const subs: Record<string, string> = {};
  // Everything secret seen during the flows; no audit row may contain any of it.
  const secrets = new Set<string>([
    ALICE.password,
    BOB.password,
    DAVE.password,
    CAROL_PASSWORD,
    CAROL_NEW_PASSWORD,
    SECRETS.web,
    SECRETS.firstParty,
    'wrong password 1',
  ]);

  const webClient = { clientId: 'web', secret: SECRETS.web };

  beforeAll(async () => {
    gh = await startGatehouse({ backend, env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_LOCKOUT_SECONDS: '60' } });
    for (const user of [ALICE, BOB, DAVE]) subs[user.username] = (await gh.createUser(user)).sub;
    await gh.testDb.db.query('UPDATE users SET disabled = true WHERE username = $1', [BOB.username]);
    web = await rpFor(gh, 'web');
    firstParty = await rpFor(gh, 'first-party');
  });
  afterAll(() => gh?.close());

  async function rows(event?: string): Promise<AuditRow[]> {
    const { rows } = event
      ? await gh.testDb.db.query<AuditRow>('SELECT * FROM audit_events WHERE event = $1 ORDER BY id', [event])
      : await gh.testDb.db.query<AuditRow>('SELECT * FROM audit_events ORDER BY id');
    return rows;
  }

  /** Provider events are recorded as the library emits them, possibly after the response. */
  const waitForRow = (event: string, match: (row: AuditRow) => boolean) =>
    eventually(async () => (await rows(event)).find(match), { what: `an audit row ${event}` });

  const logLines = (event: string) => gh.logs.filter((l) => l.event === event);

  /** Submits the login form once; returns where it landed. */
  async function tryLogin(login: string, password: string, client = firstParty) {
    const { ua, landing } = await startAuthorization(client, {
      ua: new NamedAgent(),
      redirectUri: client === firstParty ? `${RP}/fp/callback` : `${RP}/callback`,
    });
    return ua.submit(expectPage(landing), LOGIN_FORM, { login, password }, RP);
  }

  async function rememberSecrets(values: (string | undefined | null)[], ua?: UserAgent) {
    for (const value of values) if (value) secrets.add(value);
    for (const cookie of ua ? (await ua.jar.serialize()).cookies : []) if (cookie.value) secrets.add(cookie.value);
  }

  it('records sign-in success and failure with its reason, who, from where and for which client', async () => {
    await tryLogin(ALICE.username, 'wrong password 1');
    await tryLogin(UNKNOWN_LOGIN, 'wrong password 1');
    await tryLogin(BOB.username, BOB.password);
    expectRedirect(await tryLogin(ALICE.username, ALICE.password));

    const failures = await rows('login.failure');
    const origin = { client_id: 'first-party', ip: '127.0.0.1', user_agent: USER_AGENT };
    expect(failures).toEqual([
      expect.objectContaining({ ...origin, account_id: subs.alice, username: 'alice', details: { reason: 'bad_credentials' } }),
      expect.objectContaining({ ...origin, account_id: null, username: null, details: { reason: 'bad_credentials' } }),
      expect.objectContaining({ ...origin, account_id: subs.bob, username: 'bob', details: { reason: 'disabled' } }),
    ]);
    expect(await rows('login.success')).toEqual([
      expect.objectContaining({ ...origin, account_id: subs.alice, username: 'alice', details: { amr: ['pwd'], acr: 'pwd' } }),
    ]);
    expect(JSON.stringify(await rows())).not.toContain(UNKNOWN_LOGIN);
    // The same events as log lines, under the same names.
    expect(logLines('login.failure').map((l) => l.reason)).toEqual(['bad_credentials', 'bad_credentials', 'disabled']);
    expect(logLines('login.success')).toEqual([expect.objectContaining({ sub: subs.alice, client_id: 'first-party' })]);
  });

  it('records a lockout, and the attempts refused while it lasts', async () => {
    await tryLogin(DAVE.username, 'wrong password 1');
    await tryLogin(DAVE.username, 'wrong password 1');
    const refused = expectPage(await tryLogin(DAVE.username, DAVE.password));
    expect(refused.status).toBe(429);

    expect(await rows('login.locked')).toEqual([
      expect.objectContaining({ account_id: subs.dave, username: 'dave', ip: '127.0.0.1', details: { reason: 'account', lockout_seconds: 60 } }),
    ]);
    const lockedOut = (await rows('login.failure')).filter((r) => r.details.reason === 'locked_out');
    expect(lockedOut).toEqual([
      expect.objectContaining({ account_id: subs.dave, details: expect.objectContaining({ reason: 'locked_out', scope: 'account' }) }),
    ]);
    expect(logLines('login.locked')).toEqual([expect.objectContaining({ level: 40, sub: subs.dave, reason: 'account' })]);
  });

  it('keeps the refusals of one lockout in one row, however many there are', async () => {
    // Anyone can keep trying a locked login: that must not add a row (kept 90 days) per try.
    const before = (await rows('login.failure')).filter((r) => r.details.reason === 'locked_out' && r.account_id === subs.dave);
    expect(before).toHaveLength(1);
    const tries = 25;
    for (let i = 0; i < tries; i++) expect(expectPage(await tryLogin(DAVE.username, `guess ${i}`)).status).toBe(429);
    const after = (await rows('login.failure')).filter((r) => r.details.reason === 'locked_out' && r.account_id === subs.dave);
    expect(after).toEqual([
      expect.objectContaining({ id: before[0]!.id, repeat_count: before[0]!.repeat_count + tries, details: expect.objectContaining({ scope: 'account' }) }),
    ]);
    expect(after[0]!.last_occurred_at).toBeInstanceOf(Date);
    // Each refusal is still a log line.
    expect(logLines('login.failure').filter((l) => l.reason === 'locked_out' && l.sub === subs.dave)).toHaveLength(1 + tries);
  });

  it('records consent given, token revocation, sign-out, and a replayed code or refresh token', async () => {
    const signedIn = await authorize(web, {
      ua: new NamedAgent(),
      scope: 'openid profile offline_access',
      params: { prompt: 'consent' },
      credentials: { login: ALICE.username, password: ALICE.password },
      consent: 'allow',
    });
    const given = await waitForRow('consent.given', (r) => r.account_id === subs.alice);
    expect(given).toMatchObject({
      client_id: 'web',
      user_agent: USER_AGENT,
      details: { automatic: false, scope: expect.arrayContaining(['openid', 'profile', 'offline_access']) },
    });

    const exchange = (result: { callback: URL; codeVerifier: string }) =>
      tokenRequest(gh.issuer, webClient, {
        grant_type: 'authorization_code',
        code: result.callback.searchParams.get('code')!,
        redirect_uri: `${RP}/callback`,
        code_verifier: result.codeVerifier,
      });
    // Each part below ends its grant: a new authorization (same session, consent again) for the next.
    const reauthorize = () => authorize(web, { ua: signedIn.ua, scope: 'openid offline_access', params: { prompt: 'consent' }, consent: 'allow' });
    const remember = async (result: { callback: URL; codeVerifier: string }, tokens: Record<string, unknown>) =>
      rememberSecrets(
        [result.callback.searchParams.get('code'), result.codeVerifier, ...Object.values(tokens).filter((v): v is string => typeof v === 'string')],
        signedIn.ua,
      );

    // Revocation endpoint: an access token, then (of another grant: revoking either ends the
    // grant's other tokens too) a refresh token.
    const tokens = await exchange(signedIn);
    expect(tokens.status).toBe(200);
    await remember(signedIn, tokens.body);
    expect((await revoke(gh.issuer, webClient, tokens.body.access_token as string)).status).toBe(200);
    const forRefresh = await reauthorize();
    const refreshable = await exchange(forRefresh);
    await remember(forRefresh, refreshable.body);
    expect((await revoke(gh.issuer, webClient, refreshable.body.refresh_token as string)).status).toBe(200);
    const revoked = await eventually(async () => ((await rows('token.revoked')).length >= 2 ? rows('token.revoked') : undefined));
    expect(revoked.map((r) => [r.account_id, r.client_id, r.ip, r.details.token_type])).toEqual([
      [subs.alice, 'web', '127.0.0.1', 'access_token'],
      [subs.alice, 'web', '127.0.0.1', 'refresh_token'],
    ]);

    // A code redeemed twice: the grant goes.
    const second = await reauthorize();
    await remember(second, (await exchange(second)).body);
    expect((await exchange(second)).body.error).toBe('invalid_grant');
    const codeReplay = await waitForRow('token.replayed', (r) => r.details.token_type === 'authorization_code');
    expect(codeReplay).toMatchObject({ client_id: 'web', details: { grant_id: expect.any(String) } });

    // A rotated refresh token presented again: the grant goes, and the account is known.
    const third = await reauthorize();
    const thirdTokens = await exchange(third);
    const firstRefresh = thirdTokens.body.refresh_token as string;
    const rotated = await tokenRequest(gh.issuer, webClient, { grant_type: 'refresh_token', refresh_token: firstRefresh });
    expect(rotated.status).toBe(200);
    await remember(third, { ...thirdTokens.body, rotated: rotated.body.refresh_token, rotatedAccess: rotated.body.access_token });
    expect((await tokenRequest(gh.issuer, webClient, { grant_type: 'refresh_token', refresh_token: firstRefresh })).body.error).toBe('invalid_grant');
    const refreshReplay = await waitForRow('token.replayed', (r) => r.details.token_type === 'refresh_token');
    expect(refreshReplay).toMatchObject({ account_id: subs.alice, client_id: 'web' });
    expect(logLines('token.replayed')).toHaveLength(2);

    // Sign-out at the end-session endpoint, of every application.
    const confirm = expectPage(await signedIn.ua.follow(oidc.buildEndSessionUrl(web).href, {}, RP));
    await rememberSecrets([confirm.$('input[name="xsrf"]').attr('value')]);
    await signedIn.ua.submit(confirm, 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' });
    const logout = await waitForRow('logout', (r) => r.account_id === subs.alice);
    expect(logout).toMatchObject({ ip: '127.0.0.1', user_agent: USER_AGENT, details: { everywhere: true, clients: ['web'], sids: [expect.any(String)] } });
  });

  it("records consent revoked by the account page, which also ends the application's tokens", async () => {
    const signedIn = await authorize(web, {
      ua: new NamedAgent(),
      scope: 'openid offline_access',
      params: { prompt: 'consent' },
      credentials: { login: ALICE.username, password: ALICE.password },
      consent: 'allow',
    });
    const tokens = await tokenRequest(gh.issuer, webClient, {
      grant_type: 'authorization_code',
      code: signedIn.callback.searchParams.get('code')!,
      redirect_uri: `${RP}/callback`,
      code_verifier: signedIn.codeVerifier,
    });
    const refreshToken = tokens.body.refresh_token as string;
    await rememberSecrets([signedIn.callback.searchParams.get('code'), refreshToken, tokens.body.access_token as string], signedIn.ua);

    const actions = createAccountActions({
      db: gh.testDb.db,
      sessions: createAccountSessions(gh.testDb.db),
      backchannel: gh.gatehouse.backchannel,
      audit: gh.gatehouse.audit,
    });
    const actor = { accountId: subs.alice!, ip: '198.51.100.9', userAgent: 'AccountPage' };
    expect(await actions.revokeApp(actor, 'web')).toBe(true);
    expect(await rows('consent.revoked')).toEqual([
      expect.objectContaining({
        account_id: subs.alice,
        client_id: 'web',
        ip: '198.51.100.9',
        user_agent: 'AccountPage',
        details: { grants_revoked: expect.any(Number) },
      }),
    ]);
    expect((await rows('consent.revoked'))[0]!.details.grants_revoked).toBeGreaterThanOrEqual(1);
    // The application's refresh token is dead, and it must ask for consent again.
    expect((await tokenRequest(gh.issuer, webClient, { grant_type: 'refresh_token', refresh_token: refreshToken })).body.error).toBe('invalid_grant');
    const { landing } = await startAuthorization(web, { ua: signedIn.ua });
    expect(pageKind(expectPage(landing))).toBe('consent');
    // Nothing left to revoke: nothing recorded.
    expect(await actions.revokeApp(actor, 'web')).toBe(false);
    expect(await rows('consent.revoked')).toHaveLength(1);
  });

  it('records admin CLI actions with actor cli', async () => {
    const env: Record<string, string> = gh.testDb.databaseUrl ? { DATABASE_URL: gh.testDb.databaseUrl } : { DATA_DIR: gh.testDb.dataDir };
    const cli = async (args: string[], stdin = '') => {
      const result = await runCli(args, { env, stdin });
      expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
      return result.stdout.trim();
    };
    const carol = await cli(['users', 'add', 'carol', '--email', 'carol@example.test', '--password-stdin'], `${CAROL_PASSWORD}\n`);
    await cli(['users', 'disable', 'carol']);
    await cli(['users', 'enable', 'carol']);
    await cli(['users', 'set-password', 'carol', '--password-stdin'], `${CAROL_NEW_PASSWORD}\n`);
    await cli(['keys', 'rotate', '--propagation', '3600']);
    await cli(['users', 'delete', 'carol']);

    const admin = (await rows()).filter((r) => r.details.actor === 'cli');
    expect(admin.map((r) => [r.event, r.account_id, r.username])).toEqual([
      ['user.added', carol, 'carol'],
      ['user.disabled', carol, 'carol'],
      ['user.enabled', carol, 'carol'],
      ['user.password_set', carol, 'carol'],
      ['keys.rotated', null, null],
      ['user.deleted', carol, 'carol'],
    ]);
    expect(admin.find((r) => r.event === 'keys.rotated')!.details).toMatchObject({ kids: [expect.any(String), expect.any(String), expect.any(String)] });
  });

  it("lists an account's recent events, newest first", async () => {
    const recent = await gh.gatehouse.audit.listForAccount(subs.alice!, 3);
    expect(recent).toHaveLength(3);
    expect(recent.every((r) => r.account_id === subs.alice)).toBe(true);
    const ids = recent.map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(recent[0]!.event).toBe('consent.revoked');
    expect(await gh.gatehouse.audit.listForAccount('not-a-uuid')).toEqual([]);
  });

  it('a sign-in goes through when its audit row cannot be written, and the failure is logged', async () => {
    await gh.testDb.db.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store broken'; END $$`);
    await gh.testDb.db.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
    try {
      const before = (await rows()).length;
      expectRedirect(await tryLogin(ALICE.username, ALICE.password));
      expect(await rows()).toHaveLength(before);
      expect(logLines('audit.write_failed')).toEqual([expect.objectContaining({ level: 50, audit_event: 'login.success' })]);
    } finally {
      await gh.testDb.db.query('DROP TRIGGER refuse_audit ON audit_events');
      await gh.testDb.db.query('DROP FUNCTION refuse_audit()');
    }
  });

  it('no row holds a password, secret, code, token or cookie', async () => {
    const all = JSON.stringify(await rows());
    expect(secrets.size).toBeGreaterThan(15);
    expect([...secrets].filter((secret) => all.includes(secret))).toEqual([]);
  });

  it('prunes rows older than the retention, and only those', async () => {
    const db = gh.testDb.db;
    await db.query(
      `INSERT INTO audit_events (event, occurred_at) VALUES ('login.success', now() - interval '91 days'), ('login.success', now() - interval '89 days')`,
    );
    const before = (await rows()).length;
    expect(await pruneAuditEvents(db, 90)).toBe(1);
    const after = await rows();
    expect(after).toHaveLength(before - 1);
    expect(after.every((r) => Date.now() - r.occurred_at.getTime() < 90 * 86400_000)).toBe(true);
  });
});
