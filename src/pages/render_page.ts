import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import { pageTranslator, markPageLanguage } from '../i18n/page_language.js';
import type { Translator } from '../i18n/catalogues.js';
import type { BrandingConfig } from '../config/gatehouse_config.js';
import { pageBrand, type PageBrand } from './page_branding.js';

// One renderer for every hosted page, used by Express routes and by oidc-provider's hooks
// (error, logout) alike, so all pages share the layout, escaping, language and branding. Every
// view gets `t(key, params)` (text, for `<%= %>`), `tHtml(key, params)` (catalogue markup with
// escaped values, for `<%- %>`) and `lang`, in the request's language (i18n/page_language.ts),
// and `brand` (the operator's name, logo and colour: pages/page_branding.ts).

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export type RenderPage = (view: string, locals: Record<string, unknown>) => Promise<string>;

/** What every view is given to speak the page's language. */
function languageLocals(translator: Translator): { t: Translator['t']; tHtml: Translator['tHtml']; lang: string } {
  return { t: translator.t, tHtml: translator.tHtml, lang: translator.locale };
}

export interface PageRendererOptions {
  viewsDir?: string;
  cache?: boolean;
  /** the serving config's `branding` (read at each render: a reload changes it) */
  branding?: () => BrandingConfig | undefined;
}

export function createPageRenderer(options: PageRendererOptions = {}): RenderPage {
  const viewsDir = options.viewsDir ?? VIEWS_DIR;
  let seen: BrandingConfig | undefined;
  let brand: PageBrand = pageBrand(undefined);
  return (view, locals) => {
    const branding = options.branding?.();
    if (branding !== seen) {
      seen = branding;
      brand = pageBrand(branding);
    }
    const translator = pageTranslator();
    markPageLanguage(translator.locale);
    return ejs.renderFile(
      path.join(viewsDir, `${view}.ejs`),
      { ...locals, ...languageLocals(translator), brand },
      { cache: options.cache ?? true, async: false },
    );
  };
}
