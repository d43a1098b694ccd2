import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { rpFor, signedInBrowser, startGatehouseWithUsers } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { firstLink, startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import { oidc } from '../support/relying_party.js';
import { RP } from '../support/fixtures.js';
import { expectOneLineError, runCli } from '../cli/cli_harness.js';

// `gatehouse users invite` (#16): a user without a password, mailed a 7-day single-use link to
// choose one; following it verifies the address. Re-inviting sends a new link and kills the old.

function expectPage(result: Page | { redirectedTo: string }): Page {
  if (!isPage(result)) throw new Error(`redirected to ${result.redirectedTo}`);
  return result;
}

describe('invitations', () => {
  let gh: RunningGatehouse;
  let sink: SmtpSink;
  let cliEnv: Record<string, string>;
  beforeAll(async () => {
    sink = await startSmtpSink();
    ({ gh } = await startGatehouseWithUsers([], { env: { SMTP_URL: sink.url } }));
    cliEnv = { DATA_DIR: gh.testDb.dataDir, ISSUER: gh.issuer, SMTP_URL: sink.url, ...(gh.testDb.databaseUrl ? { DATABASE_URL: gh.testDb.databaseUrl } : {}) };
  });
  afterAll(async () => {
    await gh?.close();
    await sink?.close();
  });
  const invite = (...args: string[]) => runCli(['users', 'invite', ...args], { env: cliEnv });
  const mailsTo = (to: string) => sink.messages.filter((m) => m.to.includes(to));

  it('invite → the password sign-in refuses the passwordless user → set a password → sign in with email_verified true', async () => {
    const result = await invite('ivy', '--email', 'ivy@example.test', '--name', 'Ivy Invited');
    expect(result.code).toBe(0);
    const sub = result.stdout.trim();
    const { rows } = await gh.testDb.db.query<{ password_hash: string | null; email_verified: boolean; name: string }>(
      'SELECT password_hash, email_verified, name FROM users WHERE sub = $1',
      [sub],
    );
    expect(rows).toEqual([{ password_hash: null, email_verified: false, name: 'Ivy Invited' }]);
    const message = await sink.waitFor('ivy@example.test');
    expect(message.subject).toBe('You are invited to Gatehouse');
    const link = firstLink(message);
    expect(link).toMatch(new RegExp(`^${gh.issuer}/invitation\\?token=[A-Za-z0-9_-]{43}$`));
    expect(result.stdout + result.stderr).not.toContain(link);

    // Before the invitation is accepted, no password signs in: the login page says so like any wrong password.
    const rp = await rpFor(gh, 'web');
    const ua = new UserAgent();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: `${RP}/callback`,
      scope: 'openid',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    const login = expectPage(await ua.follow(url.href, {}, RP));
    const refused = expectPage(await ua.submit(login, 'form[action$="/login"]', { login: 'ivy', password: '' }, RP));
    expect(refused.status).toBe(401);
    expect(refused.$('.error').text()).toContain('incorrect');

    const form = expectPage(await new UserAgent().follow(link));
    expect(form.status).toBe(200);
    expect(form.$('h1').text()).toBe('Choose your password');
    const password = 'ivy chose her own passphrase';
    const done = expectPage(await new UserAgent().submit(form, 'form[action="/invitation"]', { password }));
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toBe('Your password is set');

    const signedIn = await signedInBrowser(rp, { username: 'ivy', password }, { scope: 'openid email' });
    const jwks = jose.createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const { payload } = await jose.jwtVerify(signedIn.tokens.id_token!, jwks, { issuer: gh.issuer, audience: 'web' });
    expect(payload.sub).toBe(sub);
    // With an access token issued, the email scope's claims are the UserInfo endpoint's (conformIdTokenClaims).
    const info = await oidc.fetchUserInfo(rp, signedIn.tokens.access_token, sub);
    expect(info.email).toBe('ivy@example.test');
    expect(info.email_verified).toBe(true);

    // The link worked once.
    expect(expectPage(await new UserAgent().follow(link)).status).toBe(400);
    const audit = await gh.testDb.db.query<{ event: string }>(
      `SELECT event FROM audit_events WHERE account_id = $1 AND event IN ('user.invited', 'invitation.accepted') ORDER BY id`,
      [sub],
    );
    expect(audit.rows.map((r) => r.event)).toEqual(['user.invited', 'invitation.accepted']);
    // Inviting someone who has a password now is refused in one line.
    expectOneLineError(await invite('ivy', '--email', 'ivy@example.test'), /already has a password/);
  });

  it('re-inviting sends a new link and the old one stops working; bad input is one line', async () => {
    expect((await invite('jon', '--email', 'jon@example.test')).code).toBe(0);
    const older = firstLink(await sink.waitFor('jon@example.test'));
    const again = await invite('jon', '--email', 'jon@example.test');
    expect(again.code).toBe(0);
    expect(mailsTo('jon@example.test')).toHaveLength(2);
    const newer = firstLink(mailsTo('jon@example.test')[1]!);
    expect(expectPage(await new UserAgent().follow(older)).status).toBe(400);
    expect(expectPage(await new UserAgent().follow(newer)).status).toBe(200);

    expectOneLineError(await invite('kim', '--email', 'not-an-address'), /email/);
    expectOneLineError(await invite('jon', '--email', 'other@example.test'), /another address/);
    expectOneLineError(await runCli(['users', 'invite', 'kim'], { env: cliEnv }), /--email/);
  });
  it('invites in the language given with --locale, keeps it for later mails, and refuses one it does not know', async () => {
    const result = await invite('ines', '--email', 'ines@example.test', '--name', 'Inès', '--locale', 'fr');
    expect(result.code).toBe(0);
    const message = await sink.waitFor('ines@example.test');
    expect(message.subject).toBe('Vous êtes invité sur Gatehouse');
    expect(message.text).toContain('Bonjour Inès,');
    expect(message.html).toContain('<html lang="fr">');
    const { rows } = await gh.testDb.db.query<{ locale: string | null }>('SELECT locale FROM users WHERE sub = $1', [result.stdout.trim()]);
    expect(rows).toEqual([{ locale: 'fr' }]);
    expectOneLineError(await invite('xavier', '--email', 'xavier@example.test', '--locale', 'xx'), /--locale must be one of en, de, fr, es/);
    expect(mailsTo('xavier@example.test')).toEqual([]);
  });
});
