import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasskeysRepo } from '../../src/storage/passkeys_repo.js';
import type { User } from '../../src/accounts/users_repo.js';
import { startGatehouseWithUsers } from '../support/factories.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { availableBackends } from '../support/storage_backends.js';
import { ALICE, BOB } from '../support/fixtures.js';
import { LOGIN_FORM, expectNoStackTrace, expectPage, pageKind } from '../support/hosted_pages.js';
import { UserAgent, type Page } from '../support/user_agent.js';
import { register } from '../support/soft_authenticator.js';

// Passkeys on /account over HTTP, on both databases: adding one (the two JSON requests the
// page's script makes, answered by a software authenticator), renaming and removing it, each
// behind the form's CSRF token, scoped to the signed-in account and audited; refusals are 4xx
// with a reason, never a 500.

describe.each(availableBackends())('passkeys on /account on %s', (backend) => {
  let gh: RunningGatehouse;
  let alice: User;
  let bob: User;
  let ua: UserAgent;

  beforeAll(async () => {
    ({
      gh,
      users: [alice, bob],
    } = (await startGatehouseWithUsers([ALICE, BOB], { backend, issuerHost: 'localhost' })) as { gh: RunningGatehouse; users: [User, User] });
    ua = new UserAgent();
  });
  afterAll(async () => {
    await gh?.close();
  });

  async function account(): Promise<Page> {
    let page = expectPage(await ua.follow(`${gh.issuer}/account`));
    if (pageKind(page) === 'login') page = expectPage(await ua.submit(page, LOGIN_FORM, { login: ALICE.username, password: ALICE.password }));
    expect(page.$('h1').text()).toBe('Your account');
    return page;
  }

  const addForm = (page: Page) => page.$('form[data-passkey="register"]');
  const names = (page: Page) =>
    page
      .$('#passkeys .passkey-name')
      .toArray()
      .map((el) => page.$(el).text());
  const events = async (event: string) =>
    (
      await gh.testDb.db.query<{ details: Record<string, unknown> }>('SELECT details FROM audit_events WHERE event = $1 AND account_id = $2 ORDER BY id', [
        event,
        alice.sub,
      ])
    ).rows;

  async function addPasskey(page: Page, name: string, tamper: Parameters<typeof register>[2] = {}) {
    const csrf = String(addForm(page).find('input[name="csrf_token"]').val());
    const optionsRes = await ua.request(`${gh.issuer}/account/passkeys/options`, {
      method: 'POST',
      json: { csrf_token: csrf, current_password: ALICE.password },
    });
    expect(optionsRes.status).toBe(200);
    const options = (await optionsRes.json()) as { challenge: string; rp: { id: string }; user: { id: string }; excludeCredentials: { id: string }[] };
    expect(options.rp.id).toBe('localhost');
    const made = register(options, gh.issuer, tamper);
    const res = await ua.request(`${gh.issuer}/account/passkeys`, { method: 'POST', json: { csrf_token: csrf, name, response: made.response } });
    return { status: res.status, body: (await res.json()) as { redirect?: string; message?: string }, options };
  }

  it('adds a passkey under its name after the current password; a wrong origin, a bad name, no CSRF token or a wrong password adds nothing', async () => {
    let page = await account();
    expect(page.$('#no-passkeys').text()).toBe('You have no passkeys.');

    const added = await addPasskey(page, '  Work laptop ');
    expect(added).toMatchObject({ status: 200, body: { redirect: '/account?done=passkey-added' } });
    page = await account();
    expect(names(page)).toEqual(['Work laptop']);
    expect(await events('passkey.enrolled')).toEqual([{ details: expect.objectContaining({ name: 'Work laptop', amr: 'hwk' }) }]);

    // The next options exclude the passkey already registered.
    const wrongOrigin = await addPasskey(page, 'Evil', { origin: 'https://evil.example' });
    expect(wrongOrigin.options.excludeCredentials).toHaveLength(1);
    expect(wrongOrigin).toMatchObject({ status: 400, body: { message: expect.stringMatching(/could not be verified/) } });
    expect(await addPasskey(page, 'x'.repeat(65))).toMatchObject({ status: 400, body: { message: expect.stringMatching(/at most 64/) } });
    expect((await events('passkey.failed')).map((e) => e.details.reason)).toEqual(['not_verified']);

    const noToken = await ua.request(`${gh.issuer}/account/passkeys/options`, { method: 'POST', json: {} });
    expect(noToken.status).toBe(403);
    // A borrowed session cannot add a passkey of its own: the current password is asked first.
    const csrf = String(addForm(page).find('input[name="csrf_token"]').val());
    const asked = async (json: Record<string, unknown>) => {
      const res = await ua.request(`${gh.issuer}/account/passkeys/options`, { method: 'POST', json: { csrf_token: csrf, ...json } });
      return { status: res.status, body: (await res.json()) as { message: string } };
    };
    expect(await asked({})).toMatchObject({ status: 400, body: { message: expect.stringMatching(/current password/) } });
    expect(await asked({ current_password: 'not the password' })).toMatchObject({ status: 401, body: { message: 'Your current password is incorrect.' } });
    expect((await account()).$('#events').text()).toContain('Passkey not added (wrong current password)');
    expect(names(await account())).toEqual(['Work laptop']);
  });

  it("renames and removes only the account's own passkeys", async () => {
    const passkeys = createPasskeysRepo(gh.testDb.db);
    await passkeys.add({
      id: 'bobs-key',
      sub: bob.sub,
      publicKey: new Uint8Array([1]),
      counter: 0,
      transports: [],
      name: 'Bob key',
      deviceType: 'singleDevice',
      backedUp: false,
    });
    let page = await account();
    const own = page.$('#passkeys li.entry').attr('data-passkey-id')!;

    page = expectPage(await ua.submit(page, 'form[action="/account/passkeys/rename"]', { name: 'Old laptop' }));
    expect(page.url).toMatch(/\?done=passkey-renamed$/);
    expect(names(page)).toEqual(['Old laptop']);

    for (const action of ['rename', 'remove']) {
      const refused = expectPage(await ua.submit(page, `form[action="/account/passkeys/${action}"]`, { passkey: 'bobs-key', name: 'Mine now' }));
      expect(refused.status).toBe(404);
      expectNoStackTrace(refused);
    }
    expect((await passkeys.list(bob.sub)).map((p) => p.name)).toEqual(['Bob key']);
    const badName = expectPage(await ua.submit(page, 'form[action="/account/passkeys/rename"]', { name: '   ' }));
    expect(badName.status).toBe(400);

    page = expectPage(await ua.submit(page, 'form[action="/account/passkeys/remove"]', { passkey: own }));
    expect(page.url).toMatch(/\?done=passkey-removed$/);
    expect(page.$('#no-passkeys').length).toBe(1);
    expect((await events('passkey.removed')).map((e) => e.details.name)).toEqual(['Old laptop']);
    expect(page.$('#events').text()).toContain('Passkey removed (Old laptop)');
  });
});
