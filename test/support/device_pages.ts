import { expect } from 'vitest';
import type { Credentials } from './relying_party.js';
import { isPage, UserAgent, type Page } from './user_agent.js';

// Driving /device (RFC 8628 verification) over HTTP, as a person on their phone would: type the
// code, confirm the device, sign in (and second factor, consent) when asked, read the done page.

export const CODE_FORM = 'form:has(input[name="user_code"]):not(:has(input[name="confirm"])):not(:has(input[name="abort"]))';
export const ALLOW_FORM = 'form:has(input[name="confirm"])';
export const DENY_FORM = 'form:has(input[name="abort"])';

export interface ApproveOptions {
  credentials?: Credentials;
  /** what to type on the second-factor form, when it shows */
  secondFactor?: () => string;
  /** what to press on the consent page, when it shows */
  consent?: 'allow' | 'deny';
}

export function asPage(result: Page | { redirectedTo: string }): Page {
  if (!isPage(result)) expect.fail(`expected a page, was sent to ${result.redirectedTo}`);
  return result;
}

/** GET /device, types `typed` into the code form and submits it: the confirmation (or the refusal). */
export async function enterUserCode(ua: UserAgent, issuer: string, typed: string): Promise<Page> {
  const input = asPage(await ua.follow(`${issuer}/device`));
  expect(input.status).toBe(200);
  return asPage(await ua.submit(input, CODE_FORM, { user_code: typed }));
}

/**
 * From the confirmation page: Allow, then the sign-in steps as they come. Returns the done page
 * and which steps were seen.
 */
export async function allowDevice(ua: UserAgent, confirm: Page, options: ApproveOptions = {}) {
  const seen: string[] = [];
  let page = asPage(await ua.submit(confirm, ALLOW_FORM));
  for (let step = 0; step < 5; step++) {
    if (page.$('form[action$="/login"] input[name="password"]').length) {
      if (!options.credentials) expect.fail('unexpected login page');
      seen.push('login');
      page = asPage(await ua.submit(page, 'form[action$="/login"]', { ...options.credentials }));
    } else if (page.$('form[action$="/mfa"] input[name="code"]').length) {
      if (!options.secondFactor) expect.fail('unexpected second-factor page');
      seen.push('mfa');
      page = asPage(await ua.submit(page, 'form[action$="/mfa"]', { code: options.secondFactor() }));
    } else if (page.$('form[action$="/confirm"]').length) {
      if (!options.consent) expect.fail('unexpected consent page');
      seen.push('consent');
      page = asPage(await ua.submit(page, options.consent === 'allow' ? 'form[action$="/confirm"]' : 'form[action$="/abort"]'));
    } else {
      break;
    }
  }
  return { page, seen };
}

/** The page's heading and lead, whitespace collapsed. */
export function headline(page: Page): string {
  return `${page.$('h1').text()} ${page.$('.lead').text()}`.replace(/\s+/g, ' ').trim();
}
