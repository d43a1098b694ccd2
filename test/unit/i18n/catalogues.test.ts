import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCALES, type Locale } from '../../../src/i18n/locales.js';
import { readCatalogue, type Catalogue } from '../../../src/i18n/catalogues.js';

// Every language says everything English says, with the same placeholders and markup, and
// every key the code asks for exists.

const ROOT = path.resolve(import.meta.dirname, '../../..');

function flatten(catalogue: Catalogue, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(catalogue)) {
    if (typeof value === 'string') out.set(prefix + key, value);
    else for (const [k, v] of flatten(value, `${prefix}${key}.`)) out.set(k, v);
  }
  return out;
}

const PLURAL = /_(zero|one|two|few|many|other)$/;

/** A plural key's base (`codes_left` of `codes_left_one`): English has its `_one` and `_other`. */
function pluralBase(english: Map<string, string>, key: string): string | undefined {
  const base = key.replace(PLURAL, '');
  return base !== key && english.has(`${base}_one`) && english.has(`${base}_other`) ? base : undefined;
}

/** The keys a language must have: English's, with each plural key in that language's CLDR forms. */
function expectedKeys(english: Map<string, string>, locale: Locale): Set<string> {
  const forms = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
  const keys = new Set<string>();
  for (const key of english.keys()) {
    const base = pluralBase(english, key);
    if (base) for (const form of forms) keys.add(`${base}_${form}`);
    else keys.add(key);
  }
  return keys;
}

/** The English text a translated key renders: a plural form's own, else `_other`'s. */
function englishFor(english: Map<string, string>, key: string): string | undefined {
  const base = key.replace(PLURAL, '');
  return english.get(key) ?? (english.has(`${base}_other`) ? english.get(`${base}_other`) : undefined);
}

/** The distinct placeholders of a text (a translation may say one twice). */
const placeholders = (text: string) => [...new Set([...text.matchAll(/\{\{\s*-?\s*([^}\s]+)\s*\}\}/g)].map((m) => m[1]))].sort();
const tags = (text: string) => [...text.matchAll(/<\/?[a-z][^>]*>/g)].map((m) => m[0]).sort();

const english = flatten(readCatalogue('en'));

describe('message catalogues', () => {
  it('are the files of locales/, one per supported language', () => {
    const files = readdirSync(path.join(ROOT, 'locales')).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(LOCALES.map((l) => `${l}.json`).sort());
  });

  for (const locale of LOCALES.filter((l) => l !== 'en')) {
    describe(locale, () => {
      const translated = flatten(readCatalogue(locale));
      const expected = expectedKeys(english, locale);

      it('has every key of en.json, in its plural forms, and no other', () => {
        expect([...expected].filter((k) => !translated.has(k))).toEqual([]);
        expect([...translated.keys()].filter((k) => !expected.has(k))).toEqual([]);
      });

      it('keeps every {{placeholder}} and every tag of the English text', () => {
        for (const [key, text] of translated) {
          const source = englishFor(english, key);
          if (source === undefined) continue;
          // A singular may say "one" instead of {{count}}; every other placeholder stays.
          const wanted = placeholders(source).filter((p) => !(p === 'count' && key.endsWith('_one')));
          expect(
            placeholders(text).filter((p) => !(p === 'count' && key.endsWith('_one'))),
            `${locale} ${key}`,
          ).toEqual(wanted);
          expect(tags(text), `${locale} ${key}`).toEqual(tags(source));
        }
      });

      it('has no empty text and no text left in English', () => {
        for (const [key, text] of translated) {
          expect(text.trim(), `${locale} ${key}`).not.toBe('');
        }
        // Identical to English is allowed only for names and codes ("Passkeys", "API", "{{message}} ({{detail}})").
        const same = [...translated].filter(
          ([key, text]) => text === englishFor(english, key) && /[a-z]{3,} [a-z]{3,}/i.test(text.replace(/\{\{[^}]+\}\}/g, '')),
        );
        expect(same.map(([key]) => key)).toEqual([]);
      });
    });
  }

  it('never inserts a value unescaped ({{- name}})', () => {
    for (const locale of LOCALES) {
      for (const [key, text] of flatten(readCatalogue(locale))) expect(text, `${locale} ${key}`).not.toMatch(/\{\{\s*-/);
    }
  });
});

/** Every file under `dir` ending in one of `extensions`. */
function filesUnder(dir: string, extensions: string[]): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && extensions.some((ext) => entry.name.endsWith(ext)))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('keys used in views/ and src/', () => {
  // t('key'), tHtml('key'), t(cond ? 'a' : 'b'): every quoted key in the call's first argument.
  const CALL = /\b(?:t|tHtml|translate)\(\s*((?:[^(),]|\([^()]*\))*?)\s*[,)]/g;
  const KEY = /'([a-z0-9_]+(?:\.[a-z0-9_]+)+)'/g;
  const used = new Map<string, string>();
  for (const file of [...filesUnder(path.join(ROOT, 'views'), ['.ejs']), ...filesUnder(path.join(ROOT, 'src'), ['.ts'])]) {
    const source = readFileSync(file, 'utf8');
    for (const call of source.matchAll(CALL)) {
      for (const key of (call[1] ?? '').matchAll(KEY)) used.set(key[1] as string, path.relative(ROOT, file));
    }
  }

  it('are found (the scan works)', () => {
    expect(used.size).toBeGreaterThan(100);
    expect(used.get('login.title')).toBe('views/login.ejs');
  });

  it('all exist in en.json', () => {
    const missing = [...used].filter(([key]) => !english.has(key) && !english.has(`${key}_other`));
    expect(missing.map(([key, file]) => `${key} (${file})`)).toEqual([]);
  });
});
