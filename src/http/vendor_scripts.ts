import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { RequestHandler } from 'express';

// Browser libraries served from our own origin (the CSP allows scripts from 'self' only, and no
// CDN): read once from node_modules at start-up, so the copy served is the installed version.

const require = createRequire(import.meta.url);

/** @simplewebauthn/browser's UMD bundle: defines `window.SimpleWebAuthnBrowser`. */
function simpleWebAuthnBrowser(): Buffer {
  // The package's entry point is script/index.js; the bundle sits beside it in dist/.
  const entry = require.resolve('@simplewebauthn/browser');
  return readFileSync(path.join(path.dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'));
}

const VENDOR_SCRIPT_PATH = '/static/vendor/simplewebauthn-browser.js';

export function vendorScripts(): RequestHandler {
  const body = simpleWebAuthnBrowser();
  return (req, res, next) => {
    if (req.path !== VENDOR_SCRIPT_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      next();
      return;
    }
    res.set('cache-control', 'public, max-age=3600').type('application/javascript').send(body);
  };
}
