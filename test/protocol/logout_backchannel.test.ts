import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout_receiver.js';
import { ALICE, BOB, RP, SECRETS, testConfig } from '../support/fixtures.js';
import { discover, oidc, signIn } from '../support/relying_party.js';
import { isPage, type UserAgent, type Page } from '../support/user_agent.js';
import { callbackParams, expectRedirect, startAuthorization, type Landing } from '../support/hosted_pages.js';

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a user signs out, each
// client that registered a backchannel_logout_uri gets a signed logout token POSTed to it. The
// receiver listens on loopback, which oidc-provider refuses by default; Gatehouse trusts the URIs
// registered in its config file.

const BCL_SECRET = 'bcl-secret-0123456789abcdef0123456789ab';
const BCL_CALLBACK = `${RP}/bcl/callback`;
const BCL_SIGNED_OUT = `${RP}/bcl/signed-out`;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let receiver: LogoutReceiver;
let gh: RunningGatehouse;
let bcl: oidc.Configuration;
let web: oidc.Configuration;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  receiver = await startLogoutReceiver();

  const base = testConfig();
  gh = await startGatehouse({
    config: testConfig({
      clients: [
        ...base.clients,
        {
          ...base.clients.find((c) => c.client_id === 'web')!,
          client_id: 'bcl',
          client_secret: BCL_SECRET,
          client_name: 'Back-channel App',
          redirect_uris: [BCL_CALLBACK],
          post_logout_redirect_uris: [BCL_SIGNED_OUT],
          backchannel_logout_uri: receiver.url,
        },
      ],
    }),
  });
  await gh.createUser(ALICE);
  await gh.createUser(BOB);
  bcl = await discover(gh.issuer, 'bcl', BCL_SECRET);
  web = await discover(gh.issuer, 'web', SECRETS.web);
  jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
});
afterAll(async () => {
  await gh?.close();
  await receiver?.close();
});
beforeEach(() => {
  receiver.deliveries.length = 0;
});

/** Ends the session from `config`'s side with its ID token, confirming on the page. */
async function logOut(ua: UserAgent, config: oidc.Configuration, idToken: string, postLogout: string): Promise<URL> {
  const url = oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout, state: 'bye' });
  let landing: Landing = await ua.follow(url.href, {}, RP);
  if (isPage(landing)) {
    const page: Page = landing;
    const button = page.$('form button[type="submit"]').first();
    landing = await ua.submit(page, 'form[method="post"]', {}, RP, { name: button.attr('name')!, value: button.attr('value')! });
  }
  return expectRedirect(landing);
}

async function verifyLogoutToken(token: string) {
  expect(decodeProtectedHeader(token).typ).toBe('logout+jwt');
  const { payload } = await jwtVerify(token, jwks, { issuer: gh.issuer, audience: 'bcl', typ: 'logout+jwt' });
  return payload;
}

describe('back-channel logout', () => {
  it('POSTs a signed logout token naming the user and the session to the registered URI', async () => {
    const { ua, tokens } = await signIn(bcl, { redirectUri: BCL_CALLBACK, credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
    const idClaims = tokens.claims()!;
    expect(idClaims.sid).toBeTypeOf('string');
    expect(receiver.deliveries).toHaveLength(0);

    const back = await logOut(ua, bcl, tokens.id_token!, BCL_SIGNED_OUT);
    expect(back.origin + back.pathname).toBe(BCL_SIGNED_OUT);
    expect(back.searchParams.get('state')).toBe('bye');

    // end_session waits for the back-channel calls before redirecting: it has arrived by now.
    expect(receiver.deliveries).toHaveLength(1);
    const [delivery] = receiver.deliveries;
    expect(delivery!.path).toBe('/backchannel-logout');
    expect(delivery!.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    const claims = await verifyLogoutToken(delivery!.logoutToken!);
    const now = Math.floor(Date.now() / 1000);
    expect(claims.iss).toBe(gh.issuer);
    expect(claims.aud).toBe('bcl');
    expect(claims.iat).toBeTypeOf('number');
    expect(claims.iat!).toBeLessThanOrEqual(now + 1);
    expect(claims.exp).toBeTypeOf('number');
    expect(claims.exp!).toBeGreaterThan(now);
    expect(claims.jti).toMatch(/^[\w-]{10,}$/);
    expect(claims.events).toEqual({ [EVENT]: {} });
    expect(claims.sub).toBe(idClaims.sub);
    expect(claims.sid).toBe(idClaims.sid);
    expect(claims.nonce).toBeUndefined(); // Back-Channel Logout 2.4: a logout token MUST NOT carry a nonce

    expect(gh.logs.some((l) => l.event === 'backchannel.success' && l.client_id === 'bcl')).toBe(true);
    expect(gh.logs.some((l) => l.event === 'backchannel.error')).toBe(false);
  });

  it('notifies the client when the user signs out from another client of the same session', async () => {
    const login = { login: BOB.username, password: BOB.password };
    const { ua, tokens: bclTokens } = await signIn(bcl, { redirectUri: BCL_CALLBACK, credentials: login, consent: 'allow' });
    const webSignIn = await signIn(web, { ua, consent: 'allow' });
    expect(webSignIn.seen.login).toBe(0);

    await logOut(ua, web, webSignIn.tokens.id_token!, `${RP}/signed-out`);
    expect(receiver.deliveries).toHaveLength(1);
    const claims = await verifyLogoutToken(receiver.deliveries[0]!.logoutToken!);
    expect(claims.sub).toBe(bclTokens.claims()!.sub);
    expect(claims.sid).toBe(bclTokens.claims()!.sid);

    const { landing } = await startAuthorization(bcl, { ua, redirectUri: BCL_CALLBACK, params: { prompt: 'none' } });
    expect(callbackParams(expectRedirect(landing)).get('error')).toBe('login_required');
  });

  it('sends nothing to a client the session never signed in to', async () => {
    const { ua, tokens } = await signIn(web, { credentials: { login: ALICE.username, password: ALICE.password }, consent: 'allow' });
    await logOut(ua, web, tokens.id_token!, `${RP}/signed-out`);
    expect(receiver.deliveries).toHaveLength(0);
  });
});
