import Negotiator from 'negotiator';

// The languages the hosted pages and mails are written in (a catalogue each in locales/), and how
// a request picks one: OpenID Connect's `ui_locales` first (the application knows what its user
// reads), then the browser's Accept-Language, then English, which has every text.

export const LOCALES = ['en', 'de', 'fr', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** A BCP 47 tag's supported language: `de`, `de-CH`, `DE-at` all give `de`; `xx` gives undefined. */
function localeOfTag(tag: string): Locale | undefined {
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return isLocale(primary) ? primary : undefined;
}

/** `ui_locales` is space-separated tags, most preferred first: the first one we have. */
function fromUiLocales(uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.split(' ').slice(0, 20)) {
    const locale = localeOfTag(tag);
    if (locale) return locale;
  }
  return undefined;
}

function fromAcceptLanguage(acceptLanguage: string | undefined): Locale | undefined {
  if (!acceptLanguage) return undefined;
  // Negotiator (Express's own) weighs q-values and matches `fr-CH` to `fr`.
  const [best] = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).languages([...LOCALES]);
  return isLocale(best) ? best : undefined;
}

export function negotiateLocale(uiLocales: unknown, acceptLanguage: string | undefined): Locale {
  return fromUiLocales(uiLocales) ?? fromAcceptLanguage(acceptLanguage) ?? DEFAULT_LOCALE;
}
