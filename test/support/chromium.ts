import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// Debian's Chromium, headless, with a fresh profile and the flags that keep it off the network
// on its own; every CSP violation and script error it reports is collected for the test to check.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** CSP violations and script errors, with the URL they happened on */
  problems: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Screenshots go to `shotsDir` (kept after the run, for a person to look at), else a new temporary one.
 * `extraArgs`: more command-line flags (e.g. `--ignore-certificate-errors-spki-list` for a test certificate).
 */
export async function launchChromium(shotsPrefix: string, shotsDir?: string, extraArgs: string[] = []): Promise<Browser> {
  const profileDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-chromium-profile-'));
  if (shotsDir) await mkdir(shotsDir, { recursive: true });
  else shotsDir = await mkdtemp(path.join(os.tmpdir(), `gatehouse-${shotsPrefix}-shots-`));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
  const problems: string[] = [];
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => {
      console.error('Content Security Policy violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
    });`,
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  // Frames report to the page's console too: a violation inside a hidden iframe is seen here.
  page.on('console', (msg) => {
    if (/content security policy/i.test(msg.text())) problems.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: script error: ${error.message}`));
  process.stdout.write(`${shotsPrefix} screenshots: ${shotsDir}\n`);
  return {
    context,
    page,
    problems,
    async screenshot(name) {
      const file = path.join(shotsDir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}
