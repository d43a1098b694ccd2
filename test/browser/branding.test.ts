import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PAGES, startTour, type Tour } from '../support/hosted_page_tour.js';
import { serveAxe, seriousViolations } from '../support/axe.js';
import { darkModeVariant } from '../../src/config/brand_colors.js';

// A branded config (README "Branding") in a real Chromium: every hosted page of the tour shows
// the operator's name (title and header, and nowhere "Gatehouse"), its logo, and its colour in
// light mode and the derived variant in dark mode, and still passes axe-core's WCAG AA rules.
// The pages' CSP lets images come from their own origin and the configured logos' only:
// an image from anywhere else is blocked. Screenshots in SHOTS_DIR (default /tmp/shots/branded).

const SHOTS_DIR = process.env.SHOTS_DIR ?? '/tmp/shots/branded';
const PRIMARY = '#0a66c2';
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 32" width="64" height="32"><rect width="64" height="32" rx="6" fill="#0a66c2"/><text x="32" y="22" font-size="16" font-family="sans-serif" text-anchor="middle" fill="#fff">ACME</text></svg>';

/** An origin serving an SVG at any path (logos here, the "other site" there). */
async function imageServer(): Promise<{ origin: string; server: http.Server }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(LOGO_SVG));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const rgb = (hex: string) => {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
};

let tour: Tour;
let logos: Awaited<ReturnType<typeof imageServer>>;
let clientLogos: Awaited<ReturnType<typeof imageServer>>;
let elsewhere: Awaited<ReturnType<typeof imageServer>>;

beforeAll(async () => {
  [logos, clientLogos, elsewhere] = await Promise.all([imageServer(), imageServer(), imageServer()]);
  tour = await startTour('branded', {
    branding: { name: 'Acme ID', logo_uri: `${logos.origin}/acme.svg`, primary_color: PRIMARY },
    webLogoUri: `${clientLogos.origin}/web-app.svg`,
    shotsDir: SHOTS_DIR,
  });
  await serveAxe(tour.page, tour.gh.issuer);
});
afterAll(async () => {
  await tour?.close();
  for (const s of [logos, clientLogos, elsewhere]) {
    s?.server.closeAllConnections();
    s?.server.close();
  }
});

interface BrandingSeen {
  title: string;
  header: string | undefined;
  logo: { src: string; loaded: boolean } | undefined;
  accent: string;
  mentionsGatehouse: boolean;
}

/** What a person sees of the branding on the page as it is now (run in the page: the tests have no DOM types). */
const BRANDING_SEEN = `(() => {
  const logo = document.querySelector('.brand-logo');
  return {
    title: document.title,
    header: document.querySelector('.brand-name')?.textContent ?? undefined,
    logo: logo ? { src: logo.src, loaded: logo.complete && logo.naturalWidth > 0 } : undefined,
    accent: getComputedStyle(document.querySelector('.brand')).color,
    mentionsGatehouse: /gatehouse/i.test(document.body.innerText),
  };
})()`;
const brandingSeen = (page: Page) => page.evaluate<BrandingSeen>(BRANDING_SEEN);

/** Loads an image from `src` in the page, as an injected <img> would; true when it loaded. */
const loadImage = (page: Page, src: string) =>
  page.evaluate<boolean>(`new Promise((resolve) => {
    const img = document.createElement('img');
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
    img.src = ${JSON.stringify(src)};
    document.body.append(img);
  })`);

describe('a branded config on every hosted page', () => {
  for (const hosted of PAGES) {
    it(hosted.name, async () => {
      const { page, browser } = tour;
      browser.problems.length = 0;
      await page.emulateMedia({ colorScheme: 'light' });
      await hosted.open(tour);
      const light = await brandingSeen(page);
      expect(light).toEqual({
        title: expect.stringMatching(/ · Acme ID$/),
        header: 'Acme ID',
        logo: { src: `${logos.origin}/acme.svg`, loaded: true },
        accent: rgb(PRIMARY),
        mentionsGatehouse: false,
      });
      const found = (await seriousViolations(page)).map((v) => `light: ${v}`);
      await browser.screenshot(`${hosted.name.replace(/\s+/g, '-')}-light`);

      await page.emulateMedia({ colorScheme: 'dark' });
      expect((await brandingSeen(page)).accent).toBe(rgb(darkModeVariant(PRIMARY)));
      found.push(...(await seriousViolations(page)).map((v) => `dark: ${v}`));
      await browser.screenshot(`${hosted.name.replace(/\s+/g, '-')}-dark`);
      await page.emulateMedia({ colorScheme: 'light' });

      expect(found.join('\n'), `${hosted.name} at ${page.url()}`).toBe('');
      expect(browser.problems.join('\n')).toBe('');
    });
  }
});

describe('images on the hosted pages', () => {
  it("img-src lists the pages' own origin and exactly the configured logos' origins", async () => {
    for (const path of ['/', '/forgot-password', '/account']) {
      const response = await fetch(`${tour.gh.issuer}${path}`, { redirect: 'manual' });
      const imgSrc = /(?:^|;)\s*img-src ([^;]*)/.exec(response.headers.get('content-security-policy') ?? '')?.[1];
      expect(imgSrc?.split(' ').sort(), path).toEqual(["'self'", logos.origin, clientLogos.origin].sort());
    }
  });

  it("shows the client's logo on its consent page, and blocks an image from any other origin", async () => {
    const { page, browser, gh } = tour;
    const consent = PAGES.find((p) => p.name === 'consent')!;
    await consent.open(tour);
    const clientLogo = page.locator(`img[src="${clientLogos.origin}/web-app.svg"]`);
    await expect.poll(() => clientLogo.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    expect(await loadImage(page, `${clientLogos.origin}/web-app.svg`)).toBe(true);

    browser.problems.length = 0;
    // An image from another origin, as an injected <img> would ask for: the browser refuses it.
    expect(await loadImage(page, `${elsewhere.origin}/tracker.svg`)).toBe(false);
    await expect.poll(() => browser.problems.join('\n')).toContain(`img-src blocked ${elsewhere.origin}/tracker.svg`);
    expect(page.url().startsWith(gh.issuer)).toBe(true);
  });
});
