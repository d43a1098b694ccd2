import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

// axe-core (Deque's accessibility engine) in a page under test, with WCAG 2.0, 2.1 and 2.2 A and
// AA rules. Only serious and critical violations count: the moderate ones are advice.

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// axe is added as a script from the page's own origin (the browser answers this path itself):
// the pages' CSP allows scripts from 'self' only, and stays in force for the test.
const AXE_PATH = '/test-only/axe.min.js';
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Lets the page load axe from its own origin: the browser answers AXE_PATH itself, the server never sees it. */
export async function serveAxe(page: Page, origin: string): Promise<void> {
  await page.route(`${origin}${AXE_PATH}`, (route) => route.fulfill({ contentType: 'text/javascript', body: AXE_SOURCE }));
}

/** axe-core's serious and critical violations on the page as it is now, one readable line each. */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ url: new URL(AXE_PATH, page.url()).href });
  const violations = await page.evaluate(async (tags) => {
    const axe = (globalThis as unknown as { axe: { run(opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations;
  }, WCAG_TAGS);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.impact ?? ''} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')));
}
