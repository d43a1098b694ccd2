import { Router } from 'express';
import type { BrandingConfig } from '../config/gatehouse_config.js';
import { BRANDING_CSS_PATH, brandingCss } from '../pages/page_branding.js';

// The branding stylesheet (pages/page_branding.ts) and the favicon's old address: browsers ask
// for /favicon.ico whatever the page links, and a 404 there is noise in every access log.

export function brandAssets(branding: () => BrandingConfig | undefined): Router {
  const router = Router();
  router.get(BRANDING_CSS_PATH, (_req, res) => {
    // Without a configured colour the pages link no stylesheet; an empty one keeps old links harmless.
    res
      .type('text/css')
      .set('Cache-Control', 'public, max-age=3600')
      .send(brandingCss(branding()) ?? '');
  });
  router.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').redirect(301, '/static/favicon.svg');
  });
  return router;
}
