import * as cheerio from 'cheerio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { FIXED_PKCE, RP } from '../support/fixtures.js';

// Issue #18, part 5: a developer whose authorization request is refused can see why. The log
// line names the client and the redirect URI the request sent (never a secret, code or token
// it carried); outside production the error page shows the same details, in production not.

// What a careless client may put in a request: none of it may reach a log line or a page.
const CARRIED = { client_secret: 'zz-secret-in-a-request-41d7', code: 'zz-code-in-a-request-98c2', id_token_hint: 'zz-token-in-a-request-57ab' };
const WRONG_REDIRECT = `${RP}/not-registered?from=dev`;

let dev: RunningGatehouse;
let production: RunningGatehouse;
beforeAll(async () => {
  [dev, production] = await Promise.all([startGatehouse(), startGatehouse({ env: { NODE_ENV: 'production' } })]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), production?.close()]);
});

function authorize(gh: RunningGatehouse, params: Record<string, string>) {
  const query = new URLSearchParams({ response_type: 'code', scope: 'openid', state: 's', ...FIXED_PKCE, ...CARRIED, ...params });
  return fetch(`${gh.issuer}/auth?${query.toString()}`, { redirect: 'manual', headers: { accept: 'text/html' } });
}

const refusals = (gh: RunningGatehouse) => gh.logs.filter((line) => line.event === 'authorization.error');

function expectNothingCarried(text: string): void {
  for (const value of Object.values(CARRIED)) expect(text).not.toContain(value);
}

describe('the log line of a refused authorization request', () => {
  it('names the client and the redirect URI it sent, for a redirect URI the client did not register', async () => {
    const response = await authorize(dev, { client_id: 'web', redirect_uri: WRONG_REDIRECT });
    expect(response.status).toBe(400);
    expect(refusals(dev).at(-1)).toMatchObject({ level: 40, client_id: 'web', redirect_uri: WRONG_REDIRECT, error: 'invalid_redirect_uri' });
    expectNothingCarried(dev.rawLogs());
  });

  it('names them for a client_id no client has, too', async () => {
    const response = await authorize(dev, { client_id: 'no-such-app', redirect_uri: `${RP}/callback` });
    expect(response.status).toBe(400);
    expect(refusals(dev).at(-1)).toMatchObject({ client_id: 'no-such-app', redirect_uri: `${RP}/callback`, error: 'invalid_client' });
    expectNothingCarried(dev.rawLogs());
  });

  it('is written the same in production', async () => {
    await authorize(production, { client_id: 'web', redirect_uri: WRONG_REDIRECT });
    expect(refusals(production).at(-1)).toMatchObject({ client_id: 'web', redirect_uri: WRONG_REDIRECT, error: 'invalid_redirect_uri' });
    expectNothingCarried(production.rawLogs());
  });
});

describe('the error page of a refused authorization request', () => {
  it('shows error, description, client_id and the redirect URI sent when NODE_ENV is not production', async () => {
    const response = await authorize(dev, { client_id: 'web', redirect_uri: WRONG_REDIRECT });
    const html = await response.text();
    const $ = cheerio.load(html);
    const details = $('.developer-details');
    expect(details.length).toBe(1);
    const shown = Object.fromEntries(
      details
        .find('dt')
        .toArray()
        .map((dt) => [$(dt).attr('data-field'), $(dt).next('dd').text().trim()]),
    );
    expect(shown).toEqual({
      error: 'invalid_redirect_uri',
      error_description: expect.stringContaining('redirect_uri') as unknown,
      client_id: 'web',
      redirect_uri: WRONG_REDIRECT,
    });
    expectNothingCarried(html);
  });

  it('shows none of it in production', async () => {
    const response = await authorize(production, { client_id: 'web', redirect_uri: WRONG_REDIRECT });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(cheerio.load(html)('.developer-details').length).toBe(0);
    expect(html).not.toContain('not-registered');
    expect(cheerio.load(html)('code').text()).toBe('invalid_redirect_uri');
    expectNothingCarried(html);
  });

  it('escapes what the request sent', async () => {
    const hostile = `${RP}/cb?"><script>alert(1)</script>`;
    const html = await (await authorize(dev, { client_id: 'web', redirect_uri: hostile })).text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(cheerio.load(html)('.developer-details dd').text()).toContain('<script>alert(1)</script>');
  });
});
