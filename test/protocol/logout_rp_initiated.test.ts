import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf } from '../support/factories.js';
import { ALICE, BOB, RP } from '../support/fixtures.js';
import { authorize, oidc, signIn } from '../support/relying_party.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import {
  callbackParams,
  expectNoStackTrace,
  expectPage,
  expectRedirect,
  pageKind,
  startAuthorization,
  visibleText,
  type Landing,
} from '../support/hosted_pages.js';

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) over HTTP: the confirmation
// page, the way back to the client, refusals, and that the session is really gone.

let gh: RunningGatehouse;
let web: oidc.Configuration;
let firstParty: oidc.Configuration;

const alice = credentialsOf(ALICE);
const SIGNED_OUT = `${RP}/signed-out`;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE, BOB]));
  web = await rpFor(gh, 'web');
  firstParty = await rpFor(gh, 'first-party');
});
afterAll(() => gh?.close());

/** The confirmation page's form: the one holding a submit button, which must be inside it. */
function confirmationForm(page: Page) {
  const forms = page.$('form').filter((_i, f) => page.$(f).find('button[type="submit"], input[type="submit"]').length > 0);
  expect(forms).toHaveLength(1);
  const form = forms.first();
  expect(form.attr('method')?.toLowerCase()).toBe('post');
  const button = form.find('button[type="submit"], input[type="submit"]').first();
  return { form, button };
}

/** Presses the confirmation page's button, sending the form's own fields and the button's. */
async function confirm(ua: UserAgent, page: Page): Promise<Landing> {
  const { form, button } = confirmationForm(page);
  const name = button.attr('name');
  const value = button.attr('value');
  // Without logout=yes the library signs the user out of the requesting client only.
  expect({ name, value }).toEqual({ name: 'logout', value: 'yes' });
  const action = form.attr('action')!;
  return ua.submit(page, `form[action="${action}"]`, {}, RP, { name: name!, value: value! });
}

/** Follows the library's auto-submitting page (shown when there is no session) as a browser would. */
async function autoSubmit(ua: UserAgent, landing: Landing): Promise<Landing> {
  if (!isPage(landing) || landing.$('form button[name="logout"]').length || !landing.$('form input[name="xsrf"]').length) return landing;
  return ua.submit(landing, 'form', {}, RP);
}

describe('RP-initiated logout', () => {
  it('without id_token_hint, asks to confirm, then shows a page that says you are signed out', async () => {
    const { ua } = await signIn(web, { credentials: alice, consent: 'allow' });
    const page = expectPage(await ua.follow(oidc.buildEndSessionUrl(web).href, {}, RP));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.$('h1').text()).toMatch(/sign out/i);
    expect(confirmationForm(page).form.find('input[name="xsrf"]')).toHaveLength(1);

    const done = expectPage(await confirm(ua, page));
    expect(done.status).toBe(200);
    expect(done.$('h1').text()).toMatch(/signed out/i);
    expect(visibleText(done)).toMatch(/you have signed out/i);

    const { landing } = await startAuthorization(web, { ua, params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('login_required');
  });

  it('with id_token_hint and a registered post_logout_redirect_uri, lands there with the state', async () => {
    const { ua, tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    const state = oidc.randomState();
    const url = oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state });
    // The hint was issued in this very session: the page submits itself (a script), no question asked.
    const page = expectPage(await ua.follow(url.href, {}, RP));
    expect(page.$('h1').text()).toMatch(/signing out/i);
    expect(visibleText(page)).toContain('Web App');
    expect(page.$('form[data-auto-submit]')).toHaveLength(1);
    expect(page.$('script[src="/static/auto_submit.js"]')).toHaveLength(1);
    const back = expectRedirect(await confirm(ua, page));
    expect(back.origin + back.pathname).toBe(SIGNED_OUT);
    expect(back.searchParams.get('state')).toBe(state);

    // The session is gone, and the grant with it: the access token no longer works.
    const { landing: silent } = await startAuthorization(web, { ua, params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(silent)).get('error')).toBe('login_required');
    await expect(oidc.fetchUserInfo(web, tokens.access_token, tokens.claims()!.sub)).rejects.toThrow();
  });

  it('signs the user out of every client the session signed in to', async () => {
    const { ua, tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    const fp = await authorize(firstParty, { ua, redirectUri: `${RP}/fp/callback`, params: { prompt: 'none' } });
    expect(callbackParams(fp.callback).get('code')).toBeTruthy();

    let landing = await ua.follow(oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT }).href, {}, RP);
    if (isPage(landing)) landing = await confirm(ua, landing);
    expectRedirect(landing);

    const { landing: silent } = await startAuthorization(firstParty, { ua, redirectUri: `${RP}/fp/callback`, params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(silent)).get('error')).toBe('login_required');
  });

  it('refuses an unregistered post_logout_redirect_uri with an error page, never a redirect', async () => {
    const { ua, tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    for (const target of ['https://attacker.example/after-logout', `${RP}/not-registered`]) {
      const url = oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: target, state: 'xyz' });
      const page = expectPage(await ua.follow(url.href, {}, 'https://attacker.example'));
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.$('p.code code').text()).toBe('invalid_request');
      expect(page.$('h1').text().trim()).not.toBe('');
      expect(page.$('form')).toHaveLength(0);
      expectNoStackTrace(page);
    }
    // Nothing was signed out.
    const again = await authorize(web, { ua, params: { prompt: 'none' } });
    expect(callbackParams(again.callback).get('code')).toBeTruthy();
  });

  it('a browser without a session still ends on the signed-out page', async () => {
    const ua = new UserAgent();
    const landing = await autoSubmit(ua, await ua.follow(oidc.buildEndSessionUrl(web).href, {}, RP));
    const page = expectPage(landing);
    expect(page.status).toBe(200);
    expect(page.$('h1').text()).toMatch(/signed out/i);
    expect(pageKind(page)).toBe('other');
  });
});

describe('which application the sign-out pages name', () => {
  // Anyone can send a signed-in user a link to /session/end with any client's id: the page must
  // not then say that application asked to sign them out.
  it('a client_id alone names no application', async () => {
    const { ua } = await signIn(web, { credentials: alice, consent: 'allow' });
    for (const params of [{ client_id: 'web' }, { client_id: 'web', post_logout_redirect_uri: SIGNED_OUT, state: 's' }]) {
      const url = new URL(`${gh.issuer}/session/end`);
      for (const [k, v] of Object.entries(params as Record<string, string>)) url.searchParams.set(k, v);
      const page = expectPage(await ua.follow(url.href, {}, RP));
      expect(page.status).toBe(200);
      expect(page.$('h1').text()).toMatch(/sign out\?/i);
      // The session's own applications are listed (read from the session, not the link); none is
      // said to have asked for the sign-out.
      expect(visibleText(page)).not.toMatch(/Web App (asked|is signing you out)/);
      expect(visibleText(page)).toContain('You asked to sign out');
      expect(page.$('form[data-auto-submit]')).toHaveLength(0);
    }
  });

  it('an ID token issued to that application for the signed-in user names it', async () => {
    const { ua, tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    const page = expectPage(await ua.follow(oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token! }).href, {}, RP));
    expect(visibleText(page)).toContain('Web App is signing you out');
  });

  it("another user's ID token (an attacker's own) names no application", async () => {
    const bobs = await signIn(web, { credentials: { login: BOB.username, password: BOB.password }, consent: 'allow' });
    const { ua } = await signIn(web, { credentials: alice, consent: 'allow' });
    const page = expectPage(await ua.follow(oidc.buildEndSessionUrl(web, { id_token_hint: bobs.tokens.id_token! }).href, {}, RP));
    expect(page.$('h1').text()).toMatch(/sign out\?/i);
    expect(visibleText(page)).not.toMatch(/Web App (asked|is signing you out)/);
    expect(visibleText(page)).toContain('You asked to sign out');
  });

  it('the signed-out page names no application, whatever client_id it is given', async () => {
    const page = expectPage(await new UserAgent().follow(`${gh.issuer}/session/end/success?client_id=web`, {}, RP));
    expect(page.status).toBe(200);
    expect(page.$('h1').text()).toMatch(/signed out/i);
    expect(visibleText(page)).not.toContain('Web App');
  });
});
