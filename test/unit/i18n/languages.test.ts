import { describe, expect, it } from 'vitest';
import { negotiateLocale } from '../../../src/i18n/locales.js';
import { translatorFor } from '../../../src/i18n/catalogues.js';

describe('choosing the language', () => {
  it('follows ui_locales first, in its order, matching a region to its language', () => {
    expect(negotiateLocale('de', 'fr')).toBe('de');
    expect(negotiateLocale('xx de-AT fr', undefined)).toBe('de');
    expect(negotiateLocale('ES-mx', 'de')).toBe('es');
  });

  it('falls back to Accept-Language by weight, then English', () => {
    expect(negotiateLocale(undefined, 'fr-CH,fr;q=0.9,en;q=0.8')).toBe('fr');
    expect(negotiateLocale('xx', 'it;q=1, es;q=0.5, de;q=0.7')).toBe('de');
    expect(negotiateLocale('xx', 'it, ja')).toBe('en');
    expect(negotiateLocale(undefined, undefined)).toBe('en');
    expect(negotiateLocale(undefined, 'de;q=0')).toBe('en');
    expect(negotiateLocale(42, '')).toBe('en');
  });
});

describe('translating', () => {
  it('gives each language its own text, with plural forms', () => {
    expect(translatorFor('de').t('login.title')).toBe('Anmelden');
    expect(translatorFor('fr').t('consent.heading', { client: 'Acme' })).toBe('Autoriser l’accès à Acme\u00a0?');
    expect(translatorFor('en').t('account.mfa.codes_left', { count: 1 })).toBe('1 unused recovery code.');
    expect(translatorFor('en').t('account.mfa.codes_left', { count: 3 })).toBe('3 unused recovery codes.');
    expect(translatorFor('fr').t('account.mfa.codes_left', { count: 0 })).toBe('0 code de récupération inutilisé.');
  });

  it('t() leaves escaping to the page; tHtml() escapes every value but keeps the catalogue markup', () => {
    const { t, tHtml } = translatorFor('en');
    expect(t('consent.heading', { client: '<b>&' })).toBe('Allow <b>& access?');
    expect(tHtml('consent.signed_in_as', { name: '<img src=x onerror=alert(1)>"' })).toBe(
      'Signed in as <strong>&lt;img src=x onerror=alert(1)&gt;&quot;</strong>.',
    );
  });

  it('never reads a value as a key, a nesting or an option', () => {
    const { t } = translatorFor('en');
    expect(t('consent.heading', { client: '$t(login.title) {{client}}' })).toBe('Allow $t(login.title) {{client}} access?');
    expect(t('upstream_link.password_label', { username: 'x', lng: 'de' })).toBe('Password of x');
  });
});
