import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { BrandingConfig } from '../config/gatehouse_config.js';
import { pageBrand, type PageBrand } from './page_branding.js';

// One renderer for every hosted page, used by Express routes and by oidc-provider's hooks
// (error, logout) alike, so all pages share the layout, the escaping and the branding.

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export type RenderPage = (view: string, locals: Record<string, unknown>) => Promise<string>;

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
    return ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { ...locals, brand }, { cache: options.cache ?? true, async: false });
  };
}
