import { createHash } from 'node:crypto';
import type { BrandingConfig } from '../config/gatehouse_config.js';
import { darkModeVariant } from '../config/brand_colors.js';

// What the hosted pages show of the operator's branding (config `branding`): the name in every
// title and header, the logo, and the primary colour. CSP allows no inline style, so the colour
// reaches the pages as a small stylesheet of its own (/branding.css) that overrides
// gatehouse.css's accent variables; its URL carries a hash of the colour so a reload is seen at once.

const DEFAULT_BRAND_NAME = 'Gatehouse';
export const BRANDING_CSS_PATH = '/branding.css';

export interface PageBrand {
  name: string;
  logoUri?: string;
  /** the stylesheet with the primary colour, when one is configured */
  stylesheet?: string;
}

export function brandingCss(branding: BrandingConfig | undefined): string | undefined {
  const primary = branding?.primary_color?.toLowerCase();
  if (!primary) return undefined;
  return `:root { --primary: ${primary}; --accent: ${primary}; }\n@media (prefers-color-scheme: dark) { :root { --accent: ${darkModeVariant(primary)}; } }\n`;
}

export function pageBrand(branding: BrandingConfig | undefined): PageBrand {
  const css = brandingCss(branding);
  const version = css && createHash('sha256').update(css).digest('base64url').slice(0, 12);
  return {
    name: branding?.name ?? DEFAULT_BRAND_NAME,
    ...(branding?.logo_uri ? { logoUri: branding.logo_uri } : {}),
    ...(version ? { stylesheet: `${BRANDING_CSS_PATH}?v=${version}` } : {}),
  };
}
