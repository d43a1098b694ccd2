import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, BOB, RP, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { isPage, type Page, type UserAgent } from '../support/user_agent.js';
import { callbackParams, expectNoStackTrace, expectPage, expectRedirect, startAuthorization } from '../support/hosted_pages.js';
import { allowFrames, frontchannelLogoutUrl } from '../../src/logout/frontchannel_logout.js';

// RP-initiated logout asks the user only when it must, and front-channel logout (ours: the
// library dropped it) tells every client of the ended session through hidden iframes.

const FC = { id: 'fc', secret: 'fc-secret-0123456789abcdef0123456789ab', origin: 'http://127.0.0.1:9' };
// Its front-channel URI is on another origin than its redirect URI: the frame policy follows the former.
const PLAIN = { id: 'fc-plain', secret: 'fc-plain-secret-0123456789abcdef012345', origin: 'http://localhost:9' };
const alice = { login: ALICE.username, password: ALICE.password };

let gh: RunningGatehouse;
let fc: oidc.Configuration;
let plain: oidc.Configuration;

beforeAll(async () => {
  const base = testConfig();
  const web = base.clients.find((c) => c.client_id === 'web')!;
  gh = await startGatehouse({
    config: testConfig({
      clients: [
        ...base.clients,
        {
          ...web,
          client_id: FC.id,
          client_secret: FC.secret,
          client_name: 'Front-channel App',
          redirect_uris: [`${FC.origin}/fc/callback`],
          post_logout_redirect_uris: [`${FC.origin}/fc/signed-out`],
          frontchannel_logout_uri: `${FC.origin}/fc/frontchannel-logout?app=fc`,
          frontchannel_logout_session_required: true,
          skip_consent: true,
        },
        {
          ...web,
          client_id: PLAIN.id,
          client_secret: PLAIN.secret,
          client_name: 'Plain Front-channel App',
          redirect_uris: [`${FC.origin}/plain/callback`],
          post_logout_redirect_uris: [],
          frontchannel_logout_uri: `${PLAIN.origin}/plain/frontchannel-logout`,
          skip_consent: true,
        },
      ],
    }),
  });
  await gh.createUser(ALICE);
  await gh.createUser(BOB);
  fc = await discover(gh.issuer, FC.id, FC.secret);
  plain = await discover(gh.issuer, PLAIN.id, PLAIN.secret);
});
afterAll(() => gh?.close());

const signInFc = (ua?: UserAgent, credentials = alice) => signIn(fc, { ua, redirectUri: `${FC.origin}/fc/callback`, credentials, scope: 'openid' });
const endSessionUrl = (idToken: string | undefined, state = 'bye') =>
  oidc.buildEndSessionUrl(fc, { ...(idToken ? { id_token_hint: idToken } : {}), post_logout_redirect_uri: `${FC.origin}/fc/signed-out`, state }).href;

/** Submits the sign-out form with its button, as the page's script (or the user) does. */
function submitSignOut(ua: UserAgent, page: Page) {
  return ua.submit(page, 'form[method="post"]', {}, 'http://127.0.0.1:9', { name: 'logout', value: 'yes' });
}

describe('when the end-session endpoint asks for confirmation', () => {
  it('does not ask when the ID token was issued in this very session: the form submits itself', async () => {
    const { ua, tokens } = await signInFc();
    const page = expectPage(await ua.follow(endSessionUrl(tokens.id_token), {}, FC.origin));
    expect(page.$('form[data-auto-submit] button[name="logout"][value="yes"]')).toHaveLength(1);
    expect(page.$('h1').text()).toMatch(/signing out/i);
  });

  it("asks when there is no ID token, or one from an earlier session, or another user's", async () => {
    const old = await signInFc();
    // Sign out, then in again: the first ID token now names a session that is gone.
    const first = expectPage(await old.ua.follow(endSessionUrl(old.tokens.id_token), {}, FC.origin));
    await submitSignOut(old.ua, first);
    await signInFc(old.ua);
    const bob = await signInFc(undefined, { login: BOB.username, password: BOB.password });

    for (const hint of [undefined, old.tokens.id_token!, bob.tokens.id_token!]) {
      const page = expectPage(await old.ua.follow(endSessionUrl(hint), {}, FC.origin));
      expect(page.$('h1').text()).toBe('Sign out?');
      expect(page.$('form[data-auto-submit]')).toHaveLength(0);
      expect(page.$('script[src="/static/auto_submit.js"]')).toHaveLength(0);
      expect(page.$('form button[name="logout"]')).toHaveLength(1);
    }
  });

  it('never redirects on a forged, foreign or malformed hint', async () => {
    const { ua, tokens } = await signInFc();
    const [header = '', payload = '', signature = ''] = tokens.id_token!.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${signature}`;
    const foreignIssuer = `${header}.${Buffer.from(JSON.stringify({ ...claims, iss: 'https://elsewhere.example' })).toString('base64url')}.${signature}`;
    for (const hint of [forged, foreignIssuer, 'not-a-jwt', `${header}.${payload}.`, 'a.b.c']) {
      const landing = await ua.follow(endSessionUrl(hint), {}, FC.origin);
      expect(isPage(landing), `${hint.slice(0, 20)}… redirected`).toBe(true);
      const page = landing as Page;
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      expectNoStackTrace(page);
    }
    // Still signed in: nothing was ended.
    const { landing } = await startAuthorization(fc, { ua, redirectUri: `${FC.origin}/fc/callback`, scope: 'openid', params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(landing)).get('code')).toBeTruthy();
  });
});

describe('front-channel logout', () => {
  it("renders a page that frames each signed-in client's frontchannel_logout_uri, then continues", async () => {
    const { ua, tokens } = await signInFc();
    const plainSignIn = await signIn(plain, { ua, redirectUri: `${FC.origin}/plain/callback`, scope: 'openid' });
    expect(plainSignIn.seen.login).toBe(0);
    const sid = tokens.claims()!.sid as string;
    const plainSid = plainSignIn.tokens.claims()!.sid as string;
    expect(sid).toBeTypeOf('string');

    const confirmPage = expectPage(await ua.follow(endSessionUrl(tokens.id_token, 'xyz'), {}, FC.origin));
    const response = await ua.request(new URL(confirmPage.$('form').attr('action')!, gh.issuer).href, {
      form: { xsrf: confirmPage.$('input[name="xsrf"]').attr('value')!, logout: 'yes' },
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    const frames = [...body.matchAll(/data-src="([^"]+)"/g)].map((m) => new URL(m[1]!.replaceAll('&amp;', '&')));
    expect(frames).toHaveLength(2);

    const fcFrame = frames.find((f) => f.pathname === '/fc/frontchannel-logout')!;
    expect(fcFrame.origin).toBe(FC.origin);
    expect(Object.fromEntries(fcFrame.searchParams)).toEqual({ app: 'fc', iss: gh.issuer, sid });
    const plainFrame = frames.find((f) => f.pathname === '/plain/frontchannel-logout')!;
    expect(plainFrame.origin).toBe(PLAIN.origin);
    expect([...plainFrame.searchParams]).toEqual([]); // no frontchannel_logout_session_required
    expect(plainSid).not.toBe(sid);

    // Only those origins may be framed; everything else about the policy is unchanged.
    const policy = response.headers.get('content-security-policy')!;
    const frameSrc = policy
      .split(';')
      .map((d) => d.trim())
      .filter((d) => d.startsWith('frame-src'));
    expect(frameSrc).toEqual([`frame-src ${FC.origin} ${PLAIN.origin}`]);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("script-src 'self'");

    // It goes on to the post_logout_redirect_uri with the state (script, or meta refresh without one).
    const continueTo = new URL(/id="continue" href="([^"]+)"/.exec(body)![1]!.replaceAll('&amp;', '&'));
    expect(continueTo.origin + continueTo.pathname).toBe(`${FC.origin}/fc/signed-out`);
    expect(continueTo.searchParams.get('state')).toBe('xyz');
    expect(body).toContain('<script src="/static/frontchannel_logout.js"></script>');
    expect(body).toMatch(/<meta http-equiv="refresh" content="3;url=/);

    // And the session really ended.
    const { landing } = await startAuthorization(fc, { ua, redirectUri: `${FC.origin}/fc/callback`, scope: 'openid', params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('login_required');
  });

  it('leaves the plain redirect when no client of the session has a front-channel URI', async () => {
    const web = await discover(gh.issuer, 'web', testConfig().clients.find((c) => c.client_id === 'web')!.client_secret);
    const { ua, tokens } = await signIn(web, { credentials: alice, consent: 'allow' });
    const page = expectPage(
      await ua.follow(oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${RP}/signed-out` }).href, {}, RP),
    );
    const back = expectRedirect(await submitSignOut(ua, page));
    expect(back.pathname).toBe('/signed-out');
  });
});

describe('front-channel helpers', () => {
  it('adds iss and sid only for clients that asked for them', () => {
    expect(
      frontchannelLogoutUrl('https://id.example', { frontchannel_logout_uri: 'https://rp.example/fc?x=1', frontchannel_logout_session_required: true }, 's1'),
    ).toBe('https://rp.example/fc?x=1&iss=https%3A%2F%2Fid.example&sid=s1');
    expect(frontchannelLogoutUrl('https://id.example', { frontchannel_logout_uri: 'https://rp.example/fc' }, 's1')).toBe('https://rp.example/fc');
    expect(frontchannelLogoutUrl('https://id.example', {}, 's1')).toBeUndefined();
  });

  it('replaces any frame-src in the policy', () => {
    expect(allowFrames("default-src 'self'; frame-src 'none'; img-src data:", ['https://a.example'])).toBe(
      "default-src 'self'; img-src data:; frame-src https://a.example",
    );
  });
});
