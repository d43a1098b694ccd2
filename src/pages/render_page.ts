import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import { pageTranslator, markPageLanguage } from '../i18n/page_language.js';
import type { Translator } from '../i18n/catalogues.js';

// One renderer for every hosted page, used by Express routes and by oidc-provider's hooks
// (error, logout) alike, so all pages share the layout, escaping and language. Every view gets
// `t(key, params)` (text, for `<%= %>`), `tHtml(key, params)` (catalogue markup with escaped
// values, for `<%- %>`) and `lang`, in the request's language (i18n/page_language.ts).

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export type RenderPage = (view: string, locals: Record<string, unknown>) => Promise<string>;

/** What every view is given to speak the page's language. */
function languageLocals(translator: Translator): { t: Translator['t']; tHtml: Translator['tHtml']; lang: string } {
  return { t: translator.t, tHtml: translator.tHtml, lang: translator.locale };
}

export function createPageRenderer(viewsDir = VIEWS_DIR, cache = true): RenderPage {
  return (view, locals) => {
    const translator = pageTranslator();
    markPageLanguage(translator.locale);
    return ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { ...locals, ...languageLocals(translator) }, { cache, async: false });
  };
}
