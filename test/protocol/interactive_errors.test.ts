import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { oidc, signIn } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, expectNoStackTrace, expectPage, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';

// Errors a person can meet in the browser are pages written for people: a heading, the OAuth
// error code, the right 4xx status, never a stack trace, and never a redirect to an address
// the client did not register.

let gh: RunningGatehouse;
let web: oidc.Configuration;

const alice = credentialsOf(ALICE);

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  web = await rpFor(gh, 'web');
});
afterAll(() => gh?.close());

function expectErrorPage(page: Page, status: number, code: string): void {
  expect(page.status).toBe(status);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.headers.get('location')).toBeNull();
  const heading = page.$('h1').text().trim();
  expect(heading.length).toBeGreaterThan(3);
  expect(heading).not.toContain('_'); // a sentence, not the bare error code
  expect(page.$('p.code code').text()).toBe(code);
  expectNoStackTrace(page);
}

function authUrl(params: Record<string, string>): string {
  const url = new URL(web.serverMetadata().authorization_endpoint!);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

describe('error pages', () => {
  it('an unknown client_id at the authorization endpoint is an HTML page with a heading and invalid_client', async () => {
    const page = expectPage(
      await new UserAgent().follow(
        authUrl({ client_id: 'no-such-app', response_type: 'code', scope: 'openid', redirect_uri: `${RP}/callback`, state: 's' }),
        {},
        RP,
      ),
    );
    expectErrorPage(page, 400, 'invalid_client');
    expect(page.$('h1').text()).toMatch(/application/i);
  });

  it('an unregistered redirect_uri is an error page, and the browser is not sent there', async () => {
    const elsewhere = 'https://attacker.example/steal';
    const ua = new UserAgent();
    const page = expectPage(
      await ua.follow(
        authUrl({
          client_id: 'web',
          response_type: 'code',
          scope: 'openid',
          redirect_uri: elsewhere,
          state: 's',
          code_challenge: 'x'.repeat(43),
          code_challenge_method: 'S256',
        }),
        {},
        'https://attacker.example',
      ),
    );
    expectErrorPage(page, 400, 'invalid_redirect_uri');
    // Nothing leads there: no link, form or refresh. (Outside production the developer details
    // quote the URI sent, as text: see developer_errors.test.ts.)
    expect(
      page
        .$('a, form, meta[http-equiv]')
        .toArray()
        .map((el) => page.$.html(el)),
    ).not.toContainEqual(expect.stringContaining('attacker.example'));
    page.$('.developer-details').remove();
    expect(page.$.html()).not.toContain(elsewhere);
  });

  it('a POST to a made-up interaction is a 4xx page, not a 500', async () => {
    for (const ua of [new UserAgent(), (await signIn(web, { credentials: alice, consent: 'allow' })).ua]) {
      for (const step of ['login', 'confirm', 'abort']) {
        const page = expectPage(await ua.follow(`${gh.issuer}/interaction/bogus-uid-123/${step}`, { method: 'POST', form: alice }));
        expect(page.status).toBeGreaterThanOrEqual(400);
        expect(page.status).toBeLessThan(500);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        // Not blamed on the application: the person is told to start the sign-in again.
        expect(page.$('h1').text()).toMatch(/expired/i);
        expect(visibleText(page)).toMatch(/sign in again/i);
        expectNoStackTrace(page);
      }
    }
    const get = expectPage(await new UserAgent().follow(`${gh.issuer}/interaction/bogus-uid-123`));
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
    expectNoStackTrace(get);
  });

  it('submitting a finished login again is a 4xx page, not a 500', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    await ua.submit(login, LOGIN_FORM, alice, RP);
    const again = expectPage(await ua.submit(login, LOGIN_FORM, alice, RP));
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(again.$('h1').text().trim()).not.toBe('');
    expectNoStackTrace(again);
  });

  it('a login POST larger than 16 kB is refused with a 413 page', async () => {
    const { ua, landing } = await startAuthorization(web);
    const login = expectPage(landing);
    expect(pageKind(login)).toBe('login');
    const page = expectPage(await ua.submit(login, LOGIN_FORM, { login: ALICE.username, password: 'p'.repeat(20 * 1024) }, RP));
    expect(page.status).toBe(413);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.$('h1').text().trim()).not.toBe('');
    expect(page.body).not.toContain('p'.repeat(100));
    expectNoStackTrace(page);
    // The interaction survives: a normal sign-in on the same page still works.
    const retry = await ua.submit(login, LOGIN_FORM, alice, RP);
    expect('redirectedTo' in retry || pageKind(retry) === 'consent').toBe(true);
  });
});

describe('response_mode=form_post', () => {
  it('returns an HTML page whose form posts code and state to the redirect_uri', async () => {
    const { ua } = await signIn(web, { credentials: alice, consent: 'allow' });
    const { landing, state } = await startAuthorization(web, { ua, params: { response_mode: 'form_post' } });
    const page = expectPage(landing);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const form = page.$('form');
    expect(form).toHaveLength(1);
    expect(form.attr('method')?.toLowerCase()).toBe('post');
    expect(form.attr('action')).toBe(`${RP}/callback`);
    const fields: Record<string, string> = {};
    form.find('input').each((_i, el) => {
      fields[page.$(el).attr('name') ?? ''] = page.$(el).attr('value') ?? '';
    });
    expect(fields.state).toBe(state);
    expect(fields.code).toMatch(/^[\w-]{20,}$/);
    // The page must be able to submit itself under the CSP: the inline script's hash is allowed.
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src[^;]*'sha256-/);
    expect(csp).toMatch(new RegExp(`form-action[^;]*${RP.replace(/[.:/]/g, '\\$&')}`));
    expect(visibleText(page)).not.toMatch(/error/i);
  });
});
