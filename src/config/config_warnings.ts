import { formatPath } from './format_issues.js';
import type { GatehouseConfig } from './gatehouse_config.js';
import { DARK_BACKGROUND, MIN_TEXT_CONTRAST, contrastRatio, darkModeVariant, formatRatio } from './brand_colors.js';

// What a valid config file may still get wrong: served as it is, but worth an operator's look.
// Said by `gatehouse config check` and logged at start and on every reload. Messages name the
// path, never the value (the value is a secret).

/**
 * A client secret is a password no person has to remember: 32 characters of a random source
 * (`openssl rand -base64 32` gives 44) put it beyond online guessing and match the 256-bit key
 * client_secret_jwt's HS256 derives from it.
 */
const MIN_CLIENT_SECRET_LENGTH = 32;

export interface ConfigWarning {
  path: string;
  message: string;
}

/** RFC 8252 §7.3 loopback: the browser and the app on one machine, nothing on the wire. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Plain http to another machine carries the authorization code (or the signed-out user) in the
 * clear. A warning, not an error: Keycloak and IdentityServer accept such URIs too, and an
 * internal network or a staging host behind TLS-terminating proxies may have reasons; README
 * "Config file" says to use https.
 */
function plainHttp(uris: readonly string[], at: (j: number) => string): ConfigWarning[] {
  return uris.flatMap((uri, j) => {
    const url = URL.parse(uri);
    return url?.protocol === 'http:' && !isLoopback(url.hostname)
      ? [{ path: at(j), message: 'plain http to a host other than this machine (loopback): codes and tokens would cross the network unencrypted; use https' }]
      : [];
  });
}

export function configWarnings(config: GatehouseConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  config.clients.forEach((client, i) => {
    warnings.push(...plainHttp(client.redirect_uris, (j) => formatPath(['clients', i, 'redirect_uris', j])));
    warnings.push(...plainHttp(client.post_logout_redirect_uris, (j) => formatPath(['clients', i, 'post_logout_redirect_uris', j])));
    if (client.client_secret !== undefined && client.client_secret.length < MIN_CLIENT_SECRET_LENGTH) {
      warnings.push({
        path: formatPath(['clients', i, 'client_secret']),
        message: `shorter than ${MIN_CLIENT_SECRET_LENGTH} characters; use a long random secret (e.g. openssl rand -base64 32)`,
      });
    }
  });
  const primary = config.branding?.primary_color;
  if (primary && contrastRatio(primary, DARK_BACKGROUND) < MIN_TEXT_CONTRAST) {
    const variant = darkModeVariant(primary);
    warnings.push({
      path: formatPath(['branding', 'primary_color']),
      message: `contrast ${formatRatio(contrastRatio(primary, DARK_BACKGROUND))} against the dark-mode background ${DARK_BACKGROUND} is below ${MIN_TEXT_CONTRAST}:1; dark mode uses the lighter ${variant} (${formatRatio(contrastRatio(variant, DARK_BACKGROUND))}) for links and accents`,
    });
  }
  return warnings;
}

/** `path: message`, the form config problems are printed in. */
export const formatWarning = (warning: ConfigWarning) => `${warning.path}: ${warning.message}`;
