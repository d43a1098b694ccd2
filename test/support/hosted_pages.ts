import { expect } from 'vitest';
import { oidc } from './relying_party.js';
import { UserAgent, isPage, type Page } from './user_agent.js';
import { RP } from './fixtures.js';

// Step-by-step driving of the hosted pages, for tests that look at each page on the way
// (relying_party.ts's authorize() runs a whole sign-in and only returns where it ended).

export type Landing = Page | { redirectedTo: string };

export const LOGIN_FORM = 'form[action$="/login"]';
export const CONSENT_FORM = 'form[action$="/confirm"]';
export const DENY_FORM = 'form[action$="/abort"]';

export interface StartOptions {
  ua?: UserAgent;
  scope?: string;
  redirectUri?: string;
  /** extra authorization parameters; a value of `null` leaves that parameter out */
  params?: Record<string, string | null>;
}

export interface Started {
  ua: UserAgent;
  url: URL;
  landing: Landing;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Sends the browser to the authorization endpoint and stops at the first page or at the RP. */
export async function startAuthorization(config: oidc.Configuration, options: StartOptions = {}): Promise<Started> {
  const ua = options.ua ?? new UserAgent();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params: Record<string, string | null> = {
    redirect_uri: options.redirectUri ?? `${RP}/callback`,
    scope: options.scope ?? 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.params,
  };
  const present = Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== null));
  const url = oidc.buildAuthorizationUrl(config, present);
  const landing = await ua.follow(url.href, {}, RP);
  return { ua, url, landing, state, nonce, codeVerifier };
}

/** The result must be a page (not a redirect to the RP); returns it. */
export function expectPage(landing: Landing): Page {
  if (!isPage(landing)) expect.fail(`expected a page, but the browser was sent to ${landing.redirectedTo}`);
  return landing;
}

/** The result must be a redirect to the RP; returns where to. */
export function expectRedirect(landing: Landing): URL {
  if (isPage(landing)) expect.fail(`expected a redirect to the client, got a ${landing.status} page at ${landing.url}: ${visibleText(landing).slice(0, 300)}`);
  return new URL(landing.redirectedTo);
}

/** The page's visible text, whitespace collapsed. */
export function visibleText(page: Page): string {
  return page.$('body').text().replace(/\s+/g, ' ').trim();
}

/** What the page is, judged by its forms. */
export function pageKind(page: Page): 'login' | 'consent' | 'other' {
  if (page.$(`${LOGIN_FORM} input[name="password"]`).length) return 'login';
  if (page.$(CONSENT_FORM).length) return 'consent';
  return 'other';
}

/** Reads the parameters of a redirect to the RP, from the query (or the fragment). */
export function callbackParams(url: URL): URLSearchParams {
  return url.search ? url.searchParams : new URLSearchParams(url.hash.slice(1));
}

/** Nothing that looks like a stack trace or a source path is on the page. */
export function expectNoStackTrace(page: Page): void {
  expect(page.body).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.(?:js|ts):\d+:\d+|Error: /);
}
