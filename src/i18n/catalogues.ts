import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import i18next, { type i18n } from 'i18next';
import { DEFAULT_LOCALE, LOCALES, type Locale } from './locales.js';

// The message catalogues (locales/<locale>.json), read once at start-up, and the translate
// functions pages and mails use. i18next does the lookup, the `{{placeholders}}`, CLDR plural
// forms (`key_one`, `key_other`, …) and the fallback to English for a key a catalogue lacks.

const LOCALES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../locales');

/** Values put into a message's `{{placeholders}}`; `count` also picks the plural form. */
export type MessageParams = Readonly<Record<string, string | number>>;
/** Plain text: escaped by whoever puts it in HTML (ejs `<%= %>`). */
export type Translate = (key: string, params?: MessageParams) => string;

export interface Translator {
  readonly locale: Locale;
  readonly t: Translate;
  /**
   * For the few messages whose catalogue text holds markup (`<strong>{{name}}</strong>`): the
   * text as HTML, every placeholder's value HTML-escaped. For ejs `<%- %>` only.
   */
  readonly tHtml: Translate;
}

export type Catalogue = { [key: string]: string | Catalogue };

export function readCatalogue(locale: Locale, dir = LOCALES_DIR): Catalogue {
  return JSON.parse(readFileSync(path.join(dir, `${locale}.json`), 'utf8')) as Catalogue;
}

function createI18n(): i18n {
  const instance = i18next.createInstance();
  void instance.init({
    resources: Object.fromEntries(LOCALES.map((locale) => [locale, { translation: readCatalogue(locale) }])),
    lng: DEFAULT_LOCALE,
    fallbackLng: DEFAULT_LOCALE,
    supportedLngs: [...LOCALES],
    // Synchronous: the resources are all here, nothing is fetched.
    initAsync: false,
    returnNull: false,
    returnEmptyString: false,
    interpolation: {
      // t() gives text that ejs escapes; tHtml() asks for escaping per call.
      escapeValue: false,
      // A value is never read as a `$t(...)` nesting or a `{{placeholder}}` (a client name could hold either).
      skipOnVariables: true,
    },
  });
  return instance;
}

let shared: i18n | undefined;
const translators = new Map<Locale, Translator>();

/** The translator of `locale` (one per language, built on first use). */
export function translatorFor(locale: Locale): Translator {
  let translator = translators.get(locale);
  if (translator) return translator;
  shared ??= createI18n();
  const fixed = shared.getFixedT(locale);
  // Values travel in `replace`, apart from the options: a placeholder named `lng` or `ns` stays a value.
  const options = (params: MessageParams | undefined, escapeValue: boolean) => ({
    replace: params ?? {},
    ...(typeof params?.count === 'number' ? { count: params.count } : {}),
    interpolation: { escapeValue },
  });
  translator = {
    locale,
    t: (key, params) => fixed(key, options(params, false)),
    tHtml: (key, params) => fixed(key, options(params, true)),
  };
  translators.set(locale, translator);
  return translator;
}
