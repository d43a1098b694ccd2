import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { rpFor, signedInBrowser, startGatehouseWithUsers } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { authorize } from '../support/relying_party.js';
import { expectPage, visibleText } from '../support/hosted_pages.js';
import type { UserAgent } from '../support/user_agent.js';

// The sign-out confirmation says who is signing out and of which applications, and its Cancel
// leads back (to the application when one is known, else the account page) without signing
// out; the signed-out page offers a way to sign in again (#18).

let gh: RunningGatehouse;
beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
});
afterAll(async () => {
  await gh?.close();
});

/** A browser signed in as Alice to Web App (with consent) and First Party (skips consent). */
async function signedInToTwoApps(): Promise<UserAgent> {
  const { ua } = await signedInBrowser(await rpFor(gh, 'web'), ALICE);
  await authorize(await rpFor(gh, 'first-party'), { ua, redirectUri: `${RP}/fp/callback` });
  return ua;
}

describe('the sign-out confirmation', () => {
  it('names the signed-in user and every application the session signed in to', async () => {
    const ua = await signedInToTwoApps();
    const page = expectPage(await ua.follow(`${gh.issuer}/session/end`, {}, RP));
    const text = visibleText(page);
    expect(text).toContain(ALICE.name);
    expect(text).toContain(ALICE.email);
    expect(
      page
        .$('.signing-out-apps li')
        .map((_i, li) => page.$(li).text().trim())
        .get(),
    ).toEqual(['First Party', 'Web App']);
    // Cancel with no application known: the account page, where Alice is still signed in.
    const cancel = page.$('a.button[data-cancel]');
    expect(cancel.attr('href')).toBe('/account');
    const account = expectPage(await ua.follow(new URL(cancel.attr('href')!, gh.issuer).href, {}, RP));
    expect(account.url).toBe(`${gh.issuer}/account`);
    expect(account.$('h1').text()).toBe('Your account');
  });

  it("sends Cancel back to the application that asked (its post-logout address's origin), still signed in", async () => {
    const ua = await signedInToTwoApps();
    const url = `${gh.issuer}/session/end?client_id=web&post_logout_redirect_uri=${encodeURIComponent(`${RP}/signed-out`)}`;
    const page = expectPage(await ua.follow(url, {}, RP));
    expect(page.$('a.button[data-cancel]').attr('href')).toBe(`${RP}/`);
    // Not signed out: the next sign-in at Web App needs no password.
    const again = await authorize(await rpFor(gh, 'web'), { ua });
    expect(again.seen.login).toBe(0);
    expect(again.callback.searchParams.get('code')).toBeTruthy();
  });

  it('refuses a post_logout_redirect_uri the client did not register, so Cancel never leads anywhere else', async () => {
    const ua = await signedInToTwoApps();
    const url = `${gh.issuer}/session/end?client_id=web&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`;
    const page = expectPage(await ua.follow(url, {}, RP));
    expect(page.status).toBe(400);
    expect(page.$('a[href^="https://evil.example"]').length).toBe(0);
  });
});

describe('the signed-out page', () => {
  it('offers to sign in again (the account page) after signing out', async () => {
    const ua = await signedInToTwoApps();
    const confirm = expectPage(await ua.follow(`${gh.issuer}/session/end`, {}, RP));
    const signedOut = expectPage(await ua.submit(confirm, 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' }));
    expect(signedOut.$('h1').text()).toBe('You are signed out');
    const again = signedOut.$('a.button[data-sign-in-again]');
    expect(again.attr('href')).toBe('/account');
    // The account page now asks for a sign-in: the session really ended.
    const next = expectPage(await ua.follow(new URL(again.attr('href')!, gh.issuer).href, {}, RP));
    expect(next.$('form[action$="/login"] input[name="password"]').length).toBe(1);
  });

  it("links back to a known application's own address, without naming it (a link can carry any client_id)", async () => {
    const ua = await signedInToTwoApps();
    const page = expectPage(await ua.follow(`${gh.issuer}/session/end/success?client_id=web`, {}, RP));
    expect(page.$('a.button[data-sign-in-again]').attr('href')).toBe(`${RP}/`);
    expect(page.$('a.button[data-sign-in-again]').text()).toBe('Back to the application');
    expect(page.$('main').text()).not.toContain('Web App');
  });
});
