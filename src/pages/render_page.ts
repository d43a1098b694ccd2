import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';

// One renderer for every hosted page, used by Express routes and by oidc-provider's hooks
// (error, logout) alike, so all pages share the layout and escaping.

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export type RenderPage = (view: string, locals: Record<string, unknown>) => Promise<string>;

export function createPageRenderer(viewsDir = VIEWS_DIR, cache = true): RenderPage {
  return (view, locals) => ejs.renderFile(path.join(viewsDir, `${view}.ejs`), locals, { cache, async: false });
}
