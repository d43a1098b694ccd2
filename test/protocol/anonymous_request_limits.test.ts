import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { FIXED_PKCE, RP, SECRETS } from '../support/fixtures.js';
import { basicAuth } from '../support/oauth_requests.js';
import { discover } from '../support/relying_party.js';
import { LOGIN_FORM, expectPage, startAuthorization } from '../support/hosted_pages.js';
import { MAX_AUTHORIZATION_BODY_BYTES, MAX_AUTHORIZATION_QUERY_BYTES } from '../../src/http/authorization_request_size.js';

// Requests anyone can send that make the server store something (an interaction per /auth, a
// pushed request per PAR): their size is capped before anything is stored, and they are
// rate-limited per client address, across every instance on the database.

const webAuth = basicAuth({ clientId: 'web', secret: SECRETS.web });
const redirect = encodeURIComponent(`${RP}/callback`);
const pkce = new URLSearchParams(FIXED_PKCE).toString();
const authPath = (state: string) => `/auth?client_id=web&response_type=code&scope=openid&redirect_uri=${redirect}&${pkce}&state=${state}`;
const parBody = (state: string) => `client_id=web&response_type=code&scope=openid&redirect_uri=${redirect}&${pkce}&state=${state}`;

async function storedRows(gh: RunningGatehouse, model: string): Promise<number> {
  const { rows } = await gh.testDb.db.query<{ n: string }>('SELECT count(*) AS n FROM oidc_models WHERE model = $1', [model]);
  return Number(rows[0]!.n);
}

describe('the size of an authorization request', () => {
  let gh: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse();
  });
  afterAll(() => gh?.close());

  it('over the cap at /auth: invalid_request (JSON or page), and no interaction is stored', async () => {
    const before = await storedRows(gh, 'Interaction');
    const long = authPath('s'.repeat(MAX_AUTHORIZATION_QUERY_BYTES));
    const json = await request(gh.server).get(long).set('accept', 'application/json');
    expect(json.status).toBe(400);
    expect(json.body).toEqual({ error: 'invalid_request', error_description: 'the request parameters are longer than 8 kB' });
    const page = await request(gh.server).get(long).set('accept', 'text/html');
    expect(page.status).toBe(400);
    expect(page.text).toContain('<code>invalid_request</code>');
    expect(await storedRows(gh, 'Interaction')).toBe(before);
  });

  it('under the cap at /auth: the sign-in starts as usual', async () => {
    const fits = authPath('s'.repeat(MAX_AUTHORIZATION_QUERY_BYTES - authPath('').length + '/auth?'.length));
    const res = await request(gh.server).get(fits).set('accept', 'text/html');
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/interaction\//);
  });

  it('over the cap at PAR: invalid_request with 413, and no pushed request is stored', async () => {
    const before = await storedRows(gh, 'PushedAuthorizationRequest');
    const res = await request(gh.server)
      .post('/request')
      .set('authorization', webAuth)
      .type('form')
      .send(parBody('s'.repeat(MAX_AUTHORIZATION_BODY_BYTES)));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'the request parameters are longer than 8 kB' });
    expect(await storedRows(gh, 'PushedAuthorizationRequest')).toBe(before);
    const fits = await request(gh.server)
      .post('/request')
      .set('authorization', webAuth)
      .type('form')
      .send(parBody('s'.repeat(MAX_AUTHORIZATION_BODY_BYTES - parBody('').length)));
    expect(fits.status).toBe(201);
  });

  it('a chunked PAR body (no Content-Length to check) is refused with 411', async () => {
    const url = new URL(`${gh.issuer}/request`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', headers: { authorization: webAuth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write(`${i === 0 ? '' : '&'}${parBody(`s${'x'.repeat(1500)}`)}`);
      req.end();
    });
    expect(answer.status).toBe(411);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
  });
});

describe('the request rate of one address', () => {
  const LIMIT = 6;
  const env = { REQUEST_RATE_LIMIT_PER_IP: String(LIMIT), REQUEST_RATE_LIMIT_WINDOW_SECONDS: '600' };
  let gh: RunningGatehouse;
  let other: RunningGatehouse;
  beforeAll(async () => {
    gh = await startGatehouse({ env });
    // A second instance on the same database.
    other = await startGatehouse({ env, testDb: gh.testDb });
  });
  afterAll(async () => {
    await other?.close();
    await gh?.close();
  });

  it('is shared by /auth, PAR and the sign-in form, and by every instance; over it: 429 with Retry-After', async () => {
    const web = await discover(gh.issuer, 'web', SECRETS.web);
    const { ua, landing } = await startAuthorization(web); // 1: /auth
    const login = expectPage(landing);
    expect((await request(gh.server).get(authPath('a')).set('accept', 'text/html')).status).toBe(303); // 2
    expect((await request(other.server).get(authPath('b')).set('accept', 'text/html')).status).toBe(303); // 3, elsewhere
    expect((await request(gh.server).post('/request').set('authorization', webAuth).type('form').send(parBody('c'))).status).toBe(201); // 4
    expect((await request(other.server).post('/request').set('authorization', webAuth).type('form').send(parBody('d'))).status).toBe(201); // 5
    expect(expectPage(await ua.submit(login, LOGIN_FORM, { login: 'nobody', password: 'wrong password here' }, RP)).status).toBe(401); // 6

    const interactionsBefore = await storedRows(gh, 'Interaction');
    const json = await request(gh.server).get(authPath('e')).set('accept', 'application/json');
    expect(json.status).toBe(429);
    expect(Number(json.headers['retry-after'])).toBeGreaterThan(0);
    expect(json.body).toMatchObject({ error: 'temporarily_unavailable' });
    const elsewhere = await request(other.server)
      .post('/request')
      .set('authorization', webAuth)
      .set('accept', 'application/json')
      .type('form')
      .send(parBody('f'));
    expect(elsewhere.status).toBe(429);
    expect(Number(elsewhere.headers['retry-after'])).toBeGreaterThan(0);
    const page = await request(gh.server).get(authPath('g')).set('accept', 'text/html');
    expect(page.status).toBe(429);
    expect(page.text).toContain('<code>temporarily_unavailable</code>');
    const form = expectPage(await ua.submit(login, LOGIN_FORM, { login: 'nobody', password: 'wrong password here' }, RP));
    expect(form.status).toBe(429);
    expect(await storedRows(gh, 'Interaction')).toBe(interactionsBefore);

    // Machine endpoints with their own protections are not counted.
    const token = await request(gh.server)
      .post('/token')
      .set('authorization', basicAuth({ clientId: 'service', secret: SECRETS.service }))
      .type('form')
      .send('grant_type=client_credentials&scope=things:read');
    expect(token.status).toBe(200);
  });
});
