import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers } from '../support/factories.js';
import { ALICE, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';
import { gatehouseConfigSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';
import type { Page } from '../support/user_agent.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage, expectRedirect, startAuthorization, visibleText, type Landing } from '../support/hosted_pages.js';
import { UPSTREAM_SECRET, startMisbehavingOidc, startOAuth2Upstream, startOidcUpstream, type OAuth2Upstream, type OidcUpstream } from '../support/upstreams.js';

// Sign-in through upstream identity providers, against real upstreams: a bare oidc-provider
// (OpenID Connect, discovered), a GitHub-style OAuth 2.0 server, and an OpenID Connect
// provider that misbehaves on purpose. The relying party is openid-client, which checks
// Gatehouse's ID token against Gatehouse's JWKS.

const FP_CALLBACK = `${RP}/fp/callback`;

let gh: RunningGatehouse;
let corp: OidcUpstream;
let github: OAuth2Upstream;
let badNonce: Awaited<ReturnType<typeof startMisbehavingOidc>>;
let otherKey: Awaited<ReturnType<typeof startMisbehavingOidc>>;
let downIssuer: string;
let rp: oidc.Configuration;
let restrictedRp: oidc.Configuration;
let mfaRp: oidc.Configuration;
let config: GatehouseConfig;

async function closedPort(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  [corp, github, badNonce, otherKey] = await Promise.all([
    startOidcUpstream(),
    startOAuth2Upstream(),
    startMisbehavingOidc('wrong_nonce'),
    startMisbehavingOidc('other_key'),
  ]);
  downIssuer = await closedPort();
  const base = testConfig();
  config = gatehouseConfigSchema.parse({
    ...base,
    clients: [
      ...base.clients,
      {
        client_id: 'github-only',
        client_secret: SECRETS.firstParty,
        redirect_uris: [FP_CALLBACK],
        scope: 'openid profile email',
        skip_consent: true,
        upstreams: ['github'],
      },
      {
        client_id: 'mfa-required',
        client_secret: SECRETS.firstParty,
        redirect_uris: [FP_CALLBACK],
        scope: 'openid profile email',
        skip_consent: true,
        require_mfa: true,
      },
    ],
    upstreams: [
      { id: 'corp', name: 'Corp SSO', issuer: corp.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET, end_session: true },
      {
        id: 'github',
        type: 'oauth2',
        name: 'GitHub',
        client_id: 'gh-client',
        client_secret: 'gh-secret',
        authorization_endpoint: `${github.base}/login/oauth/authorize`,
        token_endpoint: `${github.base}/login/oauth/access_token`,
        userinfo_endpoint: `${github.base}/user`,
        scope: 'read:user user:email',
        claims: { sub: 'id', preferred_username: 'login', email: 'email', name: 'name' },
      },
      // The same upstream, trusted for its email addresses.
      { id: 'trusted', name: 'Trusted Corp', issuer: corp.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET, link: 'email' },
      { id: 'badnonce', name: 'Bad Nonce', issuer: badNonce.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET },
      { id: 'otherkey', name: 'Other Key', issuer: otherKey.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET },
      { id: 'down', name: 'Down Provider', issuer: downIssuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET, timeout_seconds: 2 },
    ],
  });
  ({ gh } = await startGatehouseWithUsers([ALICE], { config }));
  corp.serve(gh.issuer, 'corp', 'trusted', 'later');
  rp = await discover(gh.issuer, 'first-party', SECRETS.firstParty);
  restrictedRp = await discover(gh.issuer, 'github-only', SECRETS.firstParty);
  mfaRp = await discover(gh.issuer, 'mfa-required', SECRETS.firstParty);
});
afterAll(async () => {
  await gh?.close();
  await Promise.all([corp?.close(), github?.close(), badNonce?.close(), otherKey?.close()]);
});

const button = (id: string) => `form[action^="/upstream/${id}/start"]`;

/** From the RP, to Gatehouse's login page, then the upstream's button; where it ended. */
async function viaUpstream(id: string, config = rp) {
  const started = await startAuthorization(config, { redirectUri: FP_CALLBACK });
  const page = expectPage(started.landing);
  const landing = await started.ua.submit(page, button(id), {}, RP);
  return { ...started, landing };
}

async function idTokenOf(result: { landing: Landing; codeVerifier: string; state: string; nonce: string }, config = rp) {
  const tokens = await oidc.authorizationCodeGrant(config, expectRedirect(result.landing), {
    pkceCodeVerifier: result.codeVerifier,
    expectedState: result.state,
    expectedNonce: result.nonce,
    idTokenExpected: true,
  });
  // Verified again, by hand, with Gatehouse's published keys.
  const { payload } = await jose.jwtVerify(tokens.id_token!, jose.createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), {
    issuer: gh.issuer,
    audience: 'first-party',
  });
  return payload;
}

async function lastAudit(event: string) {
  const { rows } = await gh.testDb.db.query<{ account_id: string | null; details: Record<string, unknown> }>(
    `SELECT account_id::text AS account_id, details FROM audit_events WHERE event = $1 ORDER BY id DESC LIMIT 1`,
    [event],
  );
  return rows[0];
}

function errorPage(landing: Landing): Page {
  const page = expectPage(landing);
  expect(page.body).not.toMatch(/\bat [\w.<>]+ \(|node_modules|Error: /);
  return page;
}

describe('login page', () => {
  it('shows one button per upstream, named, posting with the CSRF token', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const page = expectPage(started.landing);
    expect(page.$(LOGIN_FORM)).toHaveLength(1);
    for (const [id, name] of [
      ['corp', 'Corp SSO'],
      ['github', 'GitHub'],
    ]) {
      const form = page.$(button(id!));
      expect(form.attr('method')).toBe('post');
      expect(form.find('button').text()).toContain(name);
      expect(form.find('input[name="csrf_token"]').attr('value')).toBeTruthy();
    }
  });

  it('offers a restricted client only its upstreams, and refuses the others', async () => {
    const started = await startAuthorization(restrictedRp, { redirectUri: FP_CALLBACK });
    const page = expectPage(started.landing);
    expect(page.$(button('github'))).toHaveLength(1);
    expect(page.$(button('corp'))).toHaveLength(0);
    const uid = /\/interaction\/([^/]+)/.exec(page.url)![1]!;
    const token = page.$('input[name="csrf_token"]').first().attr('value')!;
    const refused = errorPage(
      await started.ua.follow(`${gh.issuer}/upstream/corp/start?interaction=${uid}`, { method: 'POST', form: { csrf_token: token } }, RP),
    );
    expect(refused.status).toBe(403);
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'corp', reason: 'not_allowed' } });
  });

  it('refuses the start without the page CSRF token', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const page = expectPage(started.landing);
    const uid = /\/interaction\/([^/]+)/.exec(page.url)![1]!;
    const refused = expectPage(await started.ua.follow(`${gh.issuer}/upstream/corp/start?interaction=${uid}`, { method: 'POST', form: {} }, RP));
    expect(refused.status).toBe(403);
  });
});

describe('OpenID Connect upstream', () => {
  it('first sign-in creates a password-less local user, linked; the RP gets Gatehouse ID token with idp', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully', preferred_username: 'dana' };
    const result = await viaUpstream('corp');
    const claims = await idTokenOf(result);
    expect(claims.iss).toBe(gh.issuer);
    expect(claims.idp).toBe('corp');
    const { rows } = await gh.testDb.db.query<{ username: string; email: string; name: string; password_hash: string | null; issuer: string }>(
      `SELECT u.username, u.email, u.name, u.password_hash, i.issuer FROM users u JOIN upstream_identities i ON i.sub = u.sub WHERE i.upstream_sub = 'corp-0001'`,
    );
    expect(rows).toEqual([{ username: 'dana', email: 'dana@corp.test', name: 'Dana Scully', password_hash: null, issuer: corp.issuer }]);
    const user = (await gh.testDb.db.query<{ sub: string }>(`SELECT sub::text AS sub FROM users WHERE username = 'dana'`)).rows[0]!;
    expect(claims.sub).toBe(user.sub);
    expect(claims.sub).not.toBe('corp-0001');
    expect(await lastAudit('login.success')).toMatchObject({ account_id: user.sub, details: { upstream: 'corp' } });
    expect(await lastAudit('upstream.linked')).toMatchObject({ account_id: user.sub, details: { upstream: 'corp', how: 'created' } });
  });

  it('second sign-in finds the same user, and SSO to another client works without the upstream', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully', preferred_username: 'dana' };
    const result = await viaUpstream('corp');
    const claims = await idTokenOf(result);
    const { rows } = await gh.testDb.db.query(`SELECT 1 FROM users WHERE lower(email) = 'dana@corp.test'`);
    expect(rows).toHaveLength(1);
    expect((await gh.testDb.db.query<{ sub: string }>(`SELECT sub::text AS sub FROM users WHERE username = 'dana'`)).rows[0]!.sub).toBe(claims.sub);

    // The same browser at another client: signed in already, ID token still says idp.
    const again = await startAuthorization(rp, { ua: result.ua, redirectUri: FP_CALLBACK });
    const sso = await idTokenOf(again);
    expect(sso.sub).toBe(claims.sub);
    expect(sso.idp).toBe('corp');
  });

  it('a user made through an upstream has no password: password sign-in refuses them like a wrong password', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const page = await started.ua.submit(expectPage(started.landing), LOGIN_FORM, { login: 'dana', password: '' }, RP);
    expect(expectPage(page).status).toBe(401);
    expect(visibleText(expectPage(page))).toContain('The username or password is incorrect.');
  });

  it('idp is in ID tokens from a refresh too', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully' };
    const web = await discover(gh.issuer, 'web', SECRETS.web);
    const started = await startAuthorization(web, { scope: 'openid email offline_access', params: { prompt: 'consent' } });
    const consent = expectPage(await started.ua.submit(expectPage(started.landing), button('corp'), {}, RP));
    const landing = await started.ua.submit(consent, CONSENT_FORM, {}, RP);
    const tokens = await oidc.authorizationCodeGrant(web, expectRedirect(landing), {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()!.idp).toBe('corp');
    const refreshed = await oidc.refreshTokenGrant(web, tokens.refresh_token!);
    expect(refreshed.claims()!.idp).toBe('corp');
  });

  it('goes straight to the upstream with upstream=<id>', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully' };
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK, params: { upstream: 'corp' } });
    expect((await idTokenOf(started)).idp).toBe('corp');
  });

  it('an existing local account with the same email is linked only with its password', async () => {
    corp.signInAs = { sub: 'corp-alice', email: ALICE.email, email_verified: true, name: 'Alice at Corp' };
    const result = await viaUpstream('corp');
    const page = expectPage(result.landing);
    expect(page.status).toBe(200);
    expect(visibleText(page)).toContain('Link your account');
    expect(visibleText(page)).toContain('alice');
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'corp-alice'`)).rows).toHaveLength(0);

    const wrong = expectPage(await result.ua.submit(page, 'form[action$="/upstream/link"]', { password: 'not the password' }, RP));
    expect(wrong.status).toBe(401);
    expect(visibleText(wrong)).toContain('The password is incorrect.');
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'corp-alice'`)).rows).toHaveLength(0);

    const linked = await result.ua.submit(wrong, 'form[action$="/upstream/link"]', { password: ALICE.password }, RP);
    const claims = await idTokenOf({ ...result, landing: linked });
    const alice = (await gh.testDb.db.query<{ sub: string }>(`SELECT sub::text AS sub FROM users WHERE username = 'alice'`)).rows[0]!;
    expect(claims.sub).toBe(alice.sub);
    expect(claims.idp).toBe('corp');
    expect(await lastAudit('upstream.linked')).toMatchObject({ account_id: alice.sub, details: { upstream: 'corp', how: 'password' } });

    // Next time the upstream alone is enough.
    const next = await viaUpstream('corp');
    expect((await idTokenOf(next)).sub).toBe(alice.sub);

    // /account lists the linked provider; with a password left, it can be unlinked.
    const account = expectPage(await next.ua.follow(`${gh.issuer}/account`));
    expect(account.status).toBe(200);
    const entry = account.$('#identities li');
    expect(entry.text()).toContain('Corp SSO');
    const unlinked = expectPage(await next.ua.submit(account, '#identities form'));
    expect(unlinked.status).toBe(200);
    expect(visibleText(unlinked)).toContain('The identity provider was unlinked.');
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'corp-alice'`)).rows).toHaveLength(0);
    expect(await lastAudit('upstream.unlinked')).toMatchObject({ account_id: alice.sub });
  });

  it('/account will not unlink the only way a password-less user signs in', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully', preferred_username: 'dana' };
    const result = await viaUpstream('corp');
    await idTokenOf(result);
    const account = expectPage(await result.ua.follow(`${gh.issuer}/account`));
    expect(account.$('#identities li').text()).toContain('Corp SSO');
    expect(account.$('#identities form')).toHaveLength(0);
    expect(account.$('#change-password')).toHaveLength(0);
    expect(visibleText(account)).toContain('You have no password here');
    expect(visibleText(account)).toContain('Signed in to First Party through corp');
    const id = account.$('#identities li').attr('data-identity')!;
    const token = account.$('form[action="/account/sign-out-everywhere"] input[name="csrf_token"]').attr('value');
    expect(token).toBeTruthy();
    // Even a hand-made form (the right CSRF purpose is not on the page) is refused.
    const refused = expectPage(
      await result.ua.follow(`${gh.issuer}/account/identities/unlink`, { method: 'POST', form: { identity: id, csrf_token: token! } }),
    );
    expect(refused.status).toBe(403);
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'corp-0001'`)).rows).toHaveLength(1);
  });
});

describe('second factors', () => {
  it('a client that requires a second factor gets one after an upstream sign-in too: a user without one is asked to set it up', async () => {
    corp.signInAs = { sub: 'corp-0042', email: 'walter@corp.test', email_verified: true, name: 'Walter Skinner', preferred_username: 'walter' };
    const result = await viaUpstream('corp', mfaRp);
    const page = expectPage(result.landing);
    expect(page.$('h1').text()).toBe('Set up two-step verification');
    expect(page.$('form[action$="/mfa/enrol"] input[name="code"]').length).toBe(1);
  });
});

describe('link: "email"', () => {
  it('links an existing account at once when the trusted upstream vouches for the email, not otherwise', async () => {
    await gh.createUser({ username: 'frank', email: 'frank@example.test', password: 'frank has a long passphrase' });
    const frank = (await gh.testDb.db.query<{ sub: string }>(`SELECT sub::text AS sub FROM users WHERE username = 'frank'`)).rows[0]!;

    corp.signInAs = { sub: 'trusted-frank-unverified', email: 'frank@example.test', email_verified: false };
    const unverified = await viaUpstream('trusted');
    expect(visibleText(expectPage(unverified.landing))).toContain('Link your account');

    corp.signInAs = { sub: 'trusted-frank', email: 'frank@example.test', email_verified: true };
    const verified = await viaUpstream('trusted');
    const claims = await idTokenOf(verified);
    expect(claims.sub).toBe(frank.sub);
    expect(claims.idp).toBe('trusted');
    expect(await lastAudit('upstream.linked')).toMatchObject({ account_id: frank.sub, details: { upstream: 'trusted', how: 'email' } });
  });
});

describe('signing out', () => {
  it('with end_session, signing out of Gatehouse signs out at the upstream too, and comes back', async () => {
    corp.signInAs = { sub: 'corp-0001', email: 'dana@corp.test', email_verified: true, name: 'Dana Scully' };
    const result = await viaUpstream('corp');
    await idTokenOf(result);
    expect(await result.ua.jar.getCookieString(corp.issuer)).toContain('_session=');

    const confirm = expectPage(await result.ua.follow(`${gh.issuer}/session/end`));
    const toUpstream = await result.ua.submit(confirm, 'form', {}, corp.issuer, { name: 'logout', value: 'yes' });
    // Gatehouse's session is over; the browser is at the upstream's end-session endpoint.
    const at = new URL((toUpstream as { redirectedTo: string }).redirectedTo);
    expect(at.origin).toBe(corp.issuer);
    expect(at.searchParams.get('id_token_hint')).toBeTruthy();
    expect(at.searchParams.get('post_logout_redirect_uri')).toBe(`${gh.issuer}/upstream/corp/signed-out`);
    // The upstream's own confirmation (its form, submitted as its script would).
    const upstreamConfirm = expectPage(await result.ua.follow(at.href));
    const back = expectPage(await result.ua.submit(upstreamConfirm, 'form', { logout: 'yes' }));
    expect(back.url.startsWith(gh.issuer)).toBe(true);
    expect(back.status).toBe(200);
    expect(await result.ua.jar.getCookieString(corp.issuer)).not.toContain('_session=');
    // Signed out of Gatehouse: the next authorization shows the login page again.
    const again = await startAuthorization(rp, { ua: result.ua, redirectUri: FP_CALLBACK });
    expect(expectPage(again.landing).$(LOGIN_FORM)).toHaveLength(1);
  });

  it('a forged return from the upstream sign-out goes only to the signed-out page', async () => {
    const ua = (await startAuthorization(rp, { redirectUri: FP_CALLBACK })).ua;
    const response = await ua.request(`${gh.issuer}/upstream/corp/signed-out?state=forged.${Buffer.from('https://evil.example/').toString('base64url')}`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/session/end/success');
  });
});

describe('OAuth 2.0 (GitHub-style) upstream', () => {
  it('first sign-in maps the userinfo through the claims map; the ID token says idp github', async () => {
    const result = await viaUpstream('github');
    const claims = await idTokenOf(result);
    expect(claims.idp).toBe('github');
    const { rows } = await gh.testDb.db.query(
      `SELECT u.username, u.email, u.name, i.issuer, i.upstream_sub FROM users u JOIN upstream_identities i ON i.sub = u.sub WHERE u.sub = $1`,
      [claims.sub],
    );
    expect(rows).toEqual([{ username: 'octocat', email: 'octocat@github.test', name: 'The Octocat', issuer: 'oauth2:github', upstream_sub: '583231' }]);
    const second = await viaUpstream('github');
    expect((await idTokenOf(second)).sub).toBe(claims.sub);
  });

  it('a restricted client signs in through its upstream', async () => {
    const result = await viaUpstream('github', restrictedRp);
    const tokens = await oidc.authorizationCodeGrant(restrictedRp, expectRedirect(result.landing), {
      pkceCodeVerifier: result.codeVerifier,
      expectedState: result.state,
      expectedNonce: result.nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()!.idp).toBe('github');
  });
});

describe('reload', () => {
  it('a reloaded config adds an upstream: its button shows and it signs in', async () => {
    const base = testConfig();
    const served = gatehouseConfigSchema.parse({
      ...base,
      upstreams: [{ id: 'later', name: 'Added Later', issuer: corp.issuer, client_id: 'gatehouse', client_secret: UPSTREAM_SECRET }],
    });
    await gh.gatehouse.applyConfig(served);
    try {
      const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
      const page = expectPage(started.landing);
      expect(page.$(button('later')).text()).toContain('Added Later');
      expect(page.$(button('corp'))).toHaveLength(0);
      corp.signInAs = { sub: 'later-user', email: 'later@corp.test', email_verified: true };
      const landing = await started.ua.submit(page, button('later'), {}, RP);
      expect((await idTokenOf({ ...started, landing })).idp).toBe('later');
    } finally {
      await gh.gatehouse.applyConfig(config);
    }
  });
});

describe('upstream failures end on a Gatehouse error page, audited', () => {
  it('a forged state', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const page = errorPage(await started.ua.follow(`${gh.issuer}/upstream/corp/callback?code=stolen&state=forged-state`, {}, RP));
    expect(page.status).toBe(400);
    expect(visibleText(page)).toContain('does not belong to a sign-in in progress');
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'corp', reason: 'bad_state' } });
  });

  it("another browser's state: the answer is not taken by an interaction it did not start", async () => {
    // The victim's browser is sent to the callback with the attacker's (valid) code and state.
    corp.signInAs = { sub: 'corp-mallory', email: 'mallory@corp.test', email_verified: true };
    const attacker = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const toUpstream = await attacker.ua.request(`${gh.issuer}${expectPage(attacker.landing).$(button('corp')).attr('action')!}`, {
      method: 'POST',
      form: {
        csrf_token: expectPage(attacker.landing)
          .$(`${button('corp')} input[name="csrf_token"]`)
          .attr('value')!,
      },
    });
    // The attacker follows the upstream up to, not into, Gatehouse's callback.
    let location = toUpstream.headers.get('location')!;
    while (!location.startsWith(`${gh.issuer}/upstream/corp/callback`)) {
      const response = await attacker.ua.request(new URL(location, corp.issuer).href);
      location = new URL(response.headers.get('location')!, corp.issuer).href;
    }
    const victim = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const page = errorPage(await victim.ua.follow(location, {}, RP));
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
  });

  it('access_denied at the upstream', async () => {
    const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK });
    const toUpstream = await started.ua.request(`${gh.issuer}${expectPage(started.landing).$(button('corp')).attr('action')!}`, {
      method: 'POST',
      form: {
        csrf_token: expectPage(started.landing)
          .$(`${button('corp')} input[name="csrf_token"]`)
          .attr('value')!,
      },
    });
    const state = new URL(toUpstream.headers.get('location')!).searchParams.get('state')!;
    const page = errorPage(await started.ua.follow(`${gh.issuer}/upstream/corp/callback?error=access_denied&state=${state}`, {}, RP));
    expect(page.status).toBe(403);
    expect(visibleText(page)).toContain('Corp SSO');
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'corp', reason: 'access_denied' } });
  });

  it('an ID token with another nonce', async () => {
    const page = errorPage((await viaUpstream('badnonce')).landing);
    expect(page.status).toBe(502);
    expect(visibleText(page)).toContain('could not be accepted');
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'badnonce', reason: 'invalid_response' } });
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'mallory'`)).rows).toHaveLength(0);
  });

  it('an ID token signed by a key the upstream does not publish', async () => {
    const page = errorPage((await viaUpstream('otherkey')).landing);
    expect(page.status).toBe(502);
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'otherkey', reason: 'invalid_response' } });
    expect((await gh.testDb.db.query(`SELECT 1 FROM upstream_identities WHERE upstream_sub = 'mallory'`)).rows).toHaveLength(0);
  });

  it('hostile or stray requests to the upstream routes get 4xx pages, never a 500', async () => {
    const ua = (await startAuthorization(rp, { redirectUri: FP_CALLBACK })).ua;
    for (const [url, method] of [
      [`${gh.issuer}/upstream/corp/callback`, 'GET'],
      [`${gh.issuer}/upstream/corp/callback?state=a&state=b&code=c`, 'GET'],
      [`${gh.issuer}/upstream/nope/callback?state=a&code=b`, 'GET'],
      [`${gh.issuer}/upstream/corp/callback?state=${'x'.repeat(5000)}`, 'GET'],
      [`${gh.issuer}/upstream/corp/start`, 'POST'],
      [`${gh.issuer}/upstream/corp/start?interaction=nope`, 'POST'],
      [`${gh.issuer}/interaction/nope/upstream?state=abc`, 'GET'],
      [`${gh.issuer}/interaction/nope/upstream/link`, 'POST'],
    ] as const) {
      const page = errorPage(await ua.follow(url, method === 'POST' ? { method, form: { csrf_token: 'x', state: 'y' } } : {}, RP));
      expect(page.status, url).toBeGreaterThanOrEqual(400);
      expect(page.status, url).toBeLessThan(500);
    }
  });

  it('an upstream that is down', async () => {
    const page = errorPage((await viaUpstream('down')).landing);
    expect(page.status).toBe(502);
    expect(visibleText(page)).toContain('could not be reached');
    expect(await lastAudit('upstream.failure')).toMatchObject({ details: { upstream: 'down', reason: 'unavailable' } });
    // It was only a warning at start; the failed sign-in is no error of Gatehouse's own.
    expect(gh.logs.some((l) => l.event === 'upstream.unreachable' && l.upstream === 'down')).toBe(true);
    expect(gh.logs.filter((l) => (l.level as number) >= 50 && String(l.path).startsWith('/upstream/'))).toEqual([]);
    // Nothing secret in the logs: no upstream client secret, no code verifier.
    expect(gh.rawLogs()).not.toContain(UPSTREAM_SECRET);
  });
});
