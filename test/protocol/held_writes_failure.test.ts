import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { startGatehouseWithUsers, rpFor, credentialsOf } from '../support/factories.js';
import { ALICE, RP } from '../support/fixtures.js';
import { LOGIN_FORM, expectPage, startAuthorization } from '../support/hosted_pages.js';
import type { Page } from '../support/user_agent.js';

// A request's writes are held and sent as one statement before it answers (src/db/held_writes.ts).
// When that statement fails, the answer is an error page: never the redirect that would send the
// browser on to a session, a code or a sign-in result that was not stored.

let gh: RunningGatehouse;
const alice = credentialsOf(ALICE);

beforeAll(async () => {
  ({ gh } = await startGatehouseWithUsers([ALICE]));
});
afterAll(() => gh?.close());

/** Runs `fn` while the database refuses to store rows of `model` (a trigger raising an exception). */
async function refusing<T>(model: string, fn: () => Promise<T>): Promise<T> {
  const db = gh.testDb.db;
  await db.query(`CREATE FUNCTION refuse_model() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'store broken'; END $$`);
  await db.query(
    `CREATE TRIGGER refuse_model BEFORE INSERT OR UPDATE ON oidc_models FOR EACH ROW WHEN (NEW.model = '${model}') EXECUTE FUNCTION refuse_model()`,
  );
  try {
    return await fn();
  } finally {
    await db.query('DROP TRIGGER refuse_model ON oidc_models');
    await db.query('DROP FUNCTION refuse_model()');
  }
}

const count = async (model: string) =>
  Number((await gh.testDb.db.query<{ n: string }>(`SELECT count(*) AS n FROM oidc_models WHERE model = $1`, [model])).rows[0]?.n);

function expectServerErrorPage(page: Page): void {
  expect(page.status).toBe(500);
  expect(page.headers.get('location')).toBeNull();
  expect(page.$('p.code code').text()).toBe('server_error');
}

describe('a request whose writes cannot be stored', () => {
  it('the resume after the login answers an error page, not a redirect with a code, and stores nothing of it', async () => {
    const rp = await rpFor(gh, 'first-party');
    const { ua, landing } = await startAuthorization(rp, { redirectUri: `${RP}/fp/callback` });
    const codes = await count('AuthorizationCode');
    const grants = await count('Grant');
    const page = await refusing('Session', () => ua.submit(expectPage(landing), LOGIN_FORM, alice, RP));
    expectServerErrorPage(expectPage(page));
    // Held with the session and sent in one statement with it: none of them was stored.
    expect(await count('AuthorizationCode')).toBe(codes);
    expect(await count('Grant')).toBe(grants);
  });

  it('a login whose result cannot be saved answers the error page, not the redirect back to the provider', async () => {
    const rp = await rpFor(gh, 'web');
    const { ua, landing } = await startAuthorization(rp);
    const page = await refusing('Interaction', () => ua.submit(expectPage(landing), LOGIN_FORM, alice, RP));
    expectServerErrorPage(expectPage(page));
  });

  it('once the database stores again, the same browser signs in', async () => {
    const rp = await rpFor(gh, 'first-party');
    const { ua, landing } = await startAuthorization(rp, { redirectUri: `${RP}/fp/callback` });
    const back = await ua.submit(expectPage(landing), LOGIN_FORM, alice, RP);
    expect('redirectedTo' in back && new URL(back.redirectedTo).searchParams.get('code')).toBeTruthy();
  });
});
