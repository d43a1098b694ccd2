import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGES, startTour, type Tour } from '../support/hosted_page_tour.js';
import { serveAxe, seriousViolations } from '../support/axe.js';

// WCAG 2.2 AA on every hosted page (the table in test/support/hosted_page_tour.ts), in light and
// dark mode, at a desktop and a phone width, judged by axe-core (Deque's engine, injected from
// node_modules) in a real Chromium with the Content-Security-Policy in force. A serious or
// critical violation fails, with axe's own description of each. Screenshots of every page in
// both modes go to SHOTS_DIR (default /tmp/shots/a11y).
//
// The tour is cut into parts, one test file each (accessibility_*.test.ts), each on its own
// server and browser so that they run side by side: in one file it was the suite's longest by
// far. A part runs from the page named to the next part's first page, in the table's order (a
// page may go on from the one before it: the register form, then its error).

const SHOTS_DIR = process.env.SHOTS_DIR ?? '/tmp/shots/a11y';
const WIDTHS = [1280, 375];
const SCHEMES = ['light', 'dark'] as const;

/** the first page of each part, in the table's order */
export const PART_STARTS = ['home', 'register', 'account', 'device code'] as const;

function pagesOfPart(first: (typeof PART_STARTS)[number]) {
  const starts = PART_STARTS.map((name) => PAGES.findIndex((p) => p.name === name));
  if (starts[0] !== 0 || starts.some((at, i) => at < 0 || (i > 0 && at <= starts[i - 1]!))) {
    throw new Error(`PART_STARTS must name pages of the tour in its order, beginning with its first: ${PART_STARTS.join(', ')}`);
  }
  const part = PART_STARTS.indexOf(first);
  return PAGES.slice(starts[part], starts[part + 1] ?? PAGES.length);
}

export function checkAccessibility(first: (typeof PART_STARTS)[number]): void {
  let tour: Tour;
  beforeAll(async () => {
    tour = await startTour('a11y', { shotsDir: SHOTS_DIR });
    await serveAxe(tour.page, tour.gh.issuer);
  });
  afterAll(async () => {
    await tour?.close();
  });

  describe('every hosted page meets WCAG 2.2 AA (axe-core), light and dark, 1280 and 375 px', () => {
    for (const hosted of pagesOfPart(first)) {
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
}
