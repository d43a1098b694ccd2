import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import Provider from 'oidc-provider';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { isPage } from '../support/user_agent.js';
import { expectRedirect } from '../support/hosted_pages.js';

// A whole session (sign-in with consent, code exchange, userinfo, refresh, introspection,
// revocation, logout) leaves no trace it should not:
// - oidc-provider prints "you MUST/SHOULD change" for every hook left at its default, once per
//   process, on first use (its lib/helpers/defaults.js through lib/helpers/attention.js, which
//   writes with console.warn and console.info);
// - the logs hold no password, client secret, code, token or cookie value.
// This file runs alone in its process (vitest forks), so the library's once-only warnings have
// not been spent by another test before the spies are in place.

const ATTENTION = /oidc-provider (WARNING|NOTICE)|you (MUST|SHOULD) change|quick start development-only/;

const printed: string[] = [];
const record = (...args: unknown[]) => {
  printed.push(args.map(String).join(' '));
};

let gh: RunningGatehouse;

beforeAll(async () => {
  for (const method of ['warn', 'info', 'log', 'error', 'debug'] as const) vi.spyOn(console, method).mockImplementation(record);
  for (const stream of [process.stderr, process.stdout]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return write(chunk, ...rest);
    });
  }
  gh = await startGatehouse();
  await gh.createUser(ALICE);
});
afterAll(async () => {
  await gh?.close();
  vi.restoreAllMocks();
});

describe('a full session', () => {
  const secrets: Record<string, string> = {};

  it('runs sign-in, tokens, userinfo, refresh, introspection, revocation and logout', async () => {
    const web = await discover(gh.issuer, 'web', SECRETS.web);
    const { ua, tokens, callback, codeVerifier } = await signIn(web, {
      scope: 'openid profile email offline_access',
      params: { prompt: 'consent' },
      credentials: { login: ALICE.username, password: ALICE.password },
      consent: 'allow',
    });
    expect(tokens.refresh_token).toBeTruthy();
    Object.assign(secrets, {
      password: ALICE.password,
      clientSecret: SECRETS.web,
      code: callback.searchParams.get('code')!,
      codeVerifier,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token!,
      idToken: tokens.id_token!,
    });
    const rememberCookies = async () => {
      for (const cookie of (await ua.jar.serialize()).cookies) {
        if (cookie.value) secrets[`cookie ${String(cookie.key)} ${cookie.value.slice(0, 6)}`] = cookie.value;
      }
    };
    await rememberCookies();

    const info = await oidc.fetchUserInfo(web, tokens.access_token, tokens.claims()!.sub);
    expect(info.email).toBe(ALICE.email);

    const refreshed = await oidc.refreshTokenGrant(web, tokens.refresh_token!);
    Object.assign(secrets, { accessToken2: refreshed.access_token, refreshToken2: refreshed.refresh_token!, idToken2: refreshed.id_token! });
    expect((await oidc.tokenIntrospection(web, refreshed.access_token)).active).toBe(true);
    await oidc.tokenRevocation(web, refreshed.access_token);
    expect((await oidc.tokenIntrospection(web, refreshed.access_token)).active).toBe(false);

    const end = oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${RP}/signed-out`, state: 'bye' });
    let landing = await ua.follow(end.href, {}, RP);
    if (isPage(landing)) {
      const button = landing.$('form button[type="submit"]').first();
      secrets.xsrf = landing.$('form input[name="xsrf"]').attr('value')!;
      landing = await ua.submit(landing, 'form[method="post"]', {}, RP, { name: button.attr('name')!, value: button.attr('value')! });
    }
    await rememberCookies();
    expect(expectRedirect(landing).searchParams.get('state')).toBe('bye');
  });

  it('printed no oidc-provider "you MUST/SHOULD change" warning or notice', () => {
    expect(printed.filter((line) => ATTENTION.test(line))).toEqual([]);
  });

  it('the check above would have caught a warning: a bare Provider prints one', () => {
    const before = printed.length;
    new Provider('http://localhost:1', {});
    expect(printed.slice(before).some((line) => ATTENTION.test(line))).toBe(true);
  });

  it('logged the session, but none of its secrets', () => {
    const logs = gh.rawLogs();
    expect(gh.logs.some((l) => l.event === 'login.success')).toBe(true);
    expect(gh.logs.some((l) => l.event === 'end_session.success')).toBe(true);
    expect(Object.keys(secrets).length).toBeGreaterThanOrEqual(12);
    for (const cookie of ['_session', '_session.sig', '_interaction', '_interaction.sig']) {
      expect(Object.keys(secrets).some((k) => k.startsWith(`cookie ${cookie} `))).toBe(true);
    }
    const leaked = Object.entries(secrets)
      .filter(([, value]) => value && logs.includes(value))
      .map(([name]) => name);
    expect(leaked).toEqual([]);
  });
});
