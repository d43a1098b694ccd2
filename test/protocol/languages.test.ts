import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { LOGIN_FORM, expectPage, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';

// Hosted pages speak the authorization request's ui_locales, then the browser's
// Accept-Language, then English (INTERFACE.md, "Branding and languages").

let gh: RunningGatehouse;
let web: oidc.Configuration;

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
  web = await rpFor(gh, 'web');
});
afterAll(() => gh?.close());

const browser = (acceptLanguage?: string) => new UserAgent(undefined, acceptLanguage ? { headers: { 'accept-language': acceptLanguage } } : {});

async function loginPage(ua: UserAgent, uiLocales?: string): Promise<Page> {
  const started = await startAuthorization(web, { ua, params: uiLocales ? { ui_locales: uiLocales } : {} });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return page;
}

function expectLanguage(page: Page, lang: string) {
  expect(page.$('html').attr('lang')).toBe(lang);
  expect(page.headers.get('content-language')).toBe(lang);
  expect(page.headers.get('vary')).toMatch(/accept-language/i);
}

describe('login page language', () => {
  it('follows ui_locales=de', async () => {
    const page = await loginPage(browser('en'), 'de');
    expectLanguage(page, 'de');
    expect(page.$('h1').text()).toBe('Anmelden');
    expect(page.$('label[for="login"]').text()).toBe('Benutzername oder E-Mail');
    expect(page.$(`${LOGIN_FORM} button[type="submit"]`).text()).toBe('Anmelden');
  });

  it('follows Accept-Language fr-CH,fr;q=0.9 without ui_locales', async () => {
    const page = await loginPage(browser('fr-CH,fr;q=0.9'));
    expectLanguage(page, 'fr');
    expect(page.$('h1').text()).toBe('Connexion');
    expect(visibleText(page)).toContain('Mot de passe');
  });

  it('passes over an unsupported ui_locales to Accept-Language, then to English', async () => {
    const spanish = await loginPage(browser('es-ES,es;q=0.9'), 'xx');
    expectLanguage(spanish, 'es');
    expect(spanish.$('h1').text()).toBe('Iniciar sesión');

    const english = await loginPage(browser(), 'xx');
    expectLanguage(english, 'en');
    expect(english.$('h1').text()).toBe('Sign in');
  });
});

describe('provider pages language', () => {
  it('shows an error page in the Accept-Language', async () => {
    const ua = browser('de-DE');
    const page = await ua.follow(`${gh.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${RP}/callback`)}`);
    if (!('body' in page)) expect.fail('expected an error page');
    expect(page.status).toBe(400);
    expectLanguage(page, 'de');
    expect(page.$('h1').text()).toBe('Unbekannte Anwendung');
  });
});
