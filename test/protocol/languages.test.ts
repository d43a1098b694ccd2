import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor } from '../support/factories.js';
import { ALICE, RP, testConfig } from '../support/fixtures.js';
import { oidc } from '../support/relying_party.js';
import { UserAgent, isPage, type Page } from '../support/user_agent.js';
import { CONSENT_FORM, DENY_FORM, LOGIN_FORM, expectPage, pageKind, startAuthorization, visibleText } from '../support/hosted_pages.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp_sink.js';
import { eventually } from '../support/eventually.js';

// Hosted pages speak the authorization request's ui_locales, then the browser's
// Accept-Language, then English (INTERFACE.md, "Branding and languages"); mails speak the
// language the recipient reads (users.locale), else the language of the page that caused them.

let gh: RunningGatehouse;
let sink: SmtpSink;
let web: oidc.Configuration;
let firstParty: oidc.Configuration;

const user = (username: string, locale?: string) => ({
  username,
  email: `${username}@example.test`,
  name: `User ${username}`,
  password: `${username} has a long password`,
  locale,
});

beforeAll(async () => {
  sink = await startSmtpSink();
  const config = testConfig({ self_service: { registration: 'open', password_reset: true, email_verification: true, allowed_email_domains: [] } });
  ({ gh } = await startGatehouseWithUsers([ALICE], { config, env: { SMTP_URL: sink.url } }));
  for (const name of ['dora', 'greta', 'fleur']) await gh.createUser(user(name));
  await gh.testDb.db.query(`UPDATE users SET locale = 'de' WHERE username = 'greta'`);
  web = await rpFor(gh, 'web');
  firstParty = await rpFor(gh, 'first-party');
});
afterAll(async () => {
  await gh?.close();
  await sink?.close();
});

const browser = (acceptLanguage?: string) => new UserAgent(undefined, acceptLanguage ? { headers: { 'accept-language': acceptLanguage } } : {});

async function loginPage(ua: UserAgent, uiLocales?: string, rp = web) {
  const started = await startAuthorization(rp, {
    ua,
    params: uiLocales ? { ui_locales: uiLocales } : {},
    redirectUri: rp === web ? undefined : `${RP}/fp/callback`,
  });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return { ...started, page };
}

function expectLanguage(page: Page, lang: string) {
  expect(page.$('html').attr('lang')).toBe(lang);
  expect(page.headers.get('content-language')).toBe(lang);
  expect(page.headers.get('vary')).toMatch(/accept-language/i);
}

describe('login page language', () => {
  it('follows ui_locales=de', async () => {
    const { page } = await loginPage(browser('en'), 'de');
    expectLanguage(page, 'de');
    expect(page.$('h1').text()).toBe('Anmelden');
    expect(page.$('label[for="login"]').text()).toBe('Benutzername oder E-Mail');
    expect(page.$(`${LOGIN_FORM} button[type="submit"]`).text()).toBe('Anmelden');
  });

  it('follows Accept-Language fr-CH,fr;q=0.9 without ui_locales', async () => {
    const { page } = await loginPage(browser('fr-CH,fr;q=0.9'));
    expectLanguage(page, 'fr');
    expect(page.$('h1').text()).toBe('Connexion');
    expect(visibleText(page)).toContain('Mot de passe');
  });

  it('passes over an unsupported ui_locales to Accept-Language, then to English', async () => {
    const spanish = (await loginPage(browser('es-ES,es;q=0.9'), 'xx')).page;
    expectLanguage(spanish, 'es');
    expect(spanish.$('h1').text()).toBe('Iniciar sesión');

    const english = (await loginPage(browser(), 'xx')).page;
    expectLanguage(english, 'en');
    expect(english.$('h1').text()).toBe('Sign in');
  });

  it('keeps the sign-in language after a wrong password, whatever the browser says', async () => {
    const { ua, page } = await loginPage(browser('fr'), 'de');
    const again = expectPage(await ua.submit(page, LOGIN_FORM, { login: 'dora', password: 'not the password' }, RP));
    expect(again.status).toBe(401);
    expectLanguage(again, 'de');
    expect(again.$('[role="alert"]').text()).toBe('Benutzername oder Passwort ist falsch.');
  });
});

describe('consent page language', () => {
  it('is in Spanish with ui_locales=es: the client, what each scope allows, Allow and Deny', async () => {
    const { ua, page } = await loginPage(browser('de'), 'es');
    const consent = expectPage(await ua.submit(page, LOGIN_FORM, { login: 'dora', password: user('dora').password }, RP));
    expect(pageKind(consent)).toBe('consent');
    expectLanguage(consent, 'es');
    expect(consent.$('h1').text()).toBe('¿Permitir el acceso a Web App?');
    const text = visibleText(consent);
    expect(text).toContain('Sesión iniciada como User dora.');
    expect(text).toContain('Ver su nombre y su nombre de usuario');
    expect(text).toContain('Ver su dirección de correo');
    expect(consent.$(`${CONSENT_FORM} button`).text()).toBe('Permitir');
    expect(consent.$(`${DENY_FORM} button`).text()).toBe('Denegar');
  });
});

describe('account page language', () => {
  it('is German for a German browser: headings, sessions, security events', async () => {
    const ua = browser('de-DE,de;q=0.9,en;q=0.5');
    const login = expectPage(await ua.follow(`${gh.issuer}/account`));
    expect(pageKind(login)).toBe('login');
    expectLanguage(login, 'de');
    const account = expectPage(await ua.submit(login, LOGIN_FORM, { login: 'dora', password: user('dora').password }));
    expect(account.status).toBe(200);
    expectLanguage(account, 'de');
    expect(account.$('h1').text()).toBe('Ihr Konto');
    expect(account.$('#sessions-title').text()).toBe('Wo Sie angemeldet sind');
    expect(account.$('#sessions .badge').text()).toBe('dieser Browser');
    expect(account.$('#events').text().replace(/\s+/g, ' ')).toMatch(/Bei Gatehouse account angemeldet von 127\.0\.0\.1/);
    expect(account.$('#change-password button[type="submit"]').text()).toBe('Passwort ändern');
  });
});

describe('discovery', () => {
  it('lists the languages the pages speak as ui_locales_supported', async () => {
    const metadata = (await (await fetch(`${gh.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.ui_locales_supported).toEqual(['en', 'de', 'fr', 'es']);
    expect(metadata.claim_types_supported).toEqual(['normal']);
  });
});

describe('provider pages language', () => {
  it('shows an error page in the Accept-Language', async () => {
    const page = await browser('de-DE').follow(
      `${gh.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${RP}/callback`)}`,
    );
    if (!isPage(page)) expect.fail('expected an error page');
    expect(page.status).toBe(400);
    expectLanguage(page, 'de');
    expect(page.$('h1').text()).toBe('Unbekannte Anwendung');
  });
});

describe('mail language', () => {
  const mailsTo = (to: string) => sink.messages.filter((m) => m.to.includes(to));

  async function requestReset(ua: UserAgent, email: string) {
    const form = expectPage(await ua.follow(`${gh.issuer}/forgot-password`));
    return expectPage(await ua.submit(form, 'form[action="/forgot-password"]', { email }));
  }

  it('writes a German user a German password reset mail, even when asked from an English browser', async () => {
    const sent = await requestReset(browser('en-US'), 'greta@example.test');
    expectLanguage(sent, 'en');
    const message = await sink.waitFor('greta@example.test');
    expect(message.subject).toBe('Setzen Sie Ihr Passwort für Gatehouse zurück');
    expect(message.text).toContain('Guten Tag User greta,');
    expect(message.text).toContain('Jemand (hoffentlich Sie) möchte das Passwort Ihres Kontos „greta“ bei Gatehouse zurücksetzen.');
    expect(message.html).toContain('<html lang="de">');
    expect(message.html).toContain('Neues Passwort wählen');
  });

  it('writes a user of no known language in the language of the page that asked, and learns theirs from the reset', async () => {
    const ua = browser('fr-FR,fr;q=0.9');
    await requestReset(ua, 'fleur@example.test');
    const message = await sink.waitFor('fleur@example.test');
    expect(message.subject).toBe('Réinitialisez votre mot de passe Gatehouse');
    const link = /https?:\/\/\S+/.exec(message.text)![0];
    // Asking for a reset is not proof of anything: only following the mailed link records the language.
    const { rows: before } = await gh.testDb.db.query<{ locale: string | null }>(`SELECT locale FROM users WHERE username = 'fleur'`);
    expect(before[0]?.locale).toBeNull();
    const form = expectPage(await ua.follow(link));
    expectLanguage(form, 'fr');
    expect(form.$('h1').text()).toBe('Choisissez un nouveau mot de passe');
    const done = expectPage(await ua.submit(form, 'form', { password: 'fleur chose a new long passphrase' }));
    expect(done.$('h1').text()).toBe('Votre mot de passe est défini');
    const { rows } = await gh.testDb.db.query<{ locale: string | null }>(`SELECT locale FROM users WHERE username = 'fleur'`);
    expect(rows[0]?.locale).toBe('fr');
    // The notice that follows is French too.
    const notice = await eventually(() => mailsTo('fleur@example.test').find((m) => m.subject.startsWith('Mot de passe changé')), {
      what: 'the French password-changed notice',
    });
    expect(notice.text).toContain('Le mot de passe de votre compte Gatehouse «\u00a0fleur\u00a0» a été changé.');
  });

  it('registers with the language of the sign-in: the page, the stored locale and the verification mail', async () => {
    const { ua, page } = await loginPage(browser('en'), 'fr', firstParty);
    const href = page.$('a#create-account').attr('href')!;
    const form = expectPage(await ua.follow(new URL(href, gh.issuer).href));
    expectLanguage(form, 'fr');
    const sent = expectPage(
      await ua.submit(form, 'form[action$="/register"]', {
        username: 'rene',
        email: 'rene@example.test',
        name: 'René',
        password: 'rene writes a long passphrase',
      }),
    );
    expect(sent.$('h1').text()).toBe('Consultez vos e-mails');
    const { rows } = await gh.testDb.db.query<{ locale: string | null }>(`SELECT locale FROM users WHERE username = 'rene'`);
    expect(rows[0]?.locale).toBe('fr');
    const message = await sink.waitFor('rene@example.test');
    expect(message.subject).toBe('Confirmez votre adresse e-mail pour Gatehouse');
    expect(message.text).toContain('Bonjour René,');
  });
});
