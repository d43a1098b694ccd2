import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PAGES, startTour, type Tour } from '../support/hosted_page_tour.js';

// WCAG 2.2 AA on every hosted page (the table in test/support/hosted_page_tour.ts), in light and
// dark mode, at a desktop and a phone width, judged by axe-core (Deque's engine, injected from
// node_modules) in a real Chromium with the Content-Security-Policy in force. A serious or
// critical violation fails, with axe's own description of each. Screenshots of every page in
// both modes go to SHOTS_DIR (default /tmp/shots/a11y).

const SHOTS_DIR = process.env.SHOTS_DIR ?? '/tmp/shots/a11y';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// axe is added as a script from the page's own origin (the browser answers this path itself):
// the pages' CSP allows scripts from 'self' only, and stays in force for the test.
const AXE_PATH = '/test-only/axe.min.js';
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const WIDTHS = [1280, 375];
const SCHEMES = ['light', 'dark'] as const;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

let tour: Tour;
beforeAll(async () => {
  tour = await startTour('a11y', {}, SHOTS_DIR);
  await tour.page.route(`${tour.gh.issuer}${AXE_PATH}`, (route) => route.fulfill({ contentType: 'text/javascript', body: AXE_SOURCE }));
});
afterAll(async () => {
  await tour?.close();
});

/** axe-core's serious and critical violations on the page as it is now, one readable line each. */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ url: new URL(AXE_PATH, page.url()).href });
  const violations = await page.evaluate(async (tags) => {
    const axe = (globalThis as unknown as { axe: { run(opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations;
  }, TAGS);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.impact ?? ''} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')));
}

describe('every hosted page meets WCAG 2.2 AA (axe-core), light and dark, 1280 and 375 px', () => {
  for (const hosted of PAGES) {
    it(hosted.name, async () => {
      const { page, browser } = tour;
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: 'light' });
      browser.problems.length = 0;
      await hosted.open(tour);
      const found: string[] = [];
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 900 });
        for (const scheme of SCHEMES) {
          await page.emulateMedia({ colorScheme: scheme });
          for (const v of await seriousViolations(page)) found.push(`${scheme} ${width}px: ${v}`);
          await browser.screenshot(`${hosted.name.replace(/\s+/g, '-')}-${scheme}-${width}`);
        }
      }
      await page.emulateMedia({ colorScheme: 'light' });
      // Printed in full: vitest shortens long arrays in its diff.
      expect(found.join('\n'), `${hosted.name} at ${page.url()}`).toBe('');
      expect(browser.problems.join('\n')).toBe('');
    });
  }
});
