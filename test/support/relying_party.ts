import * as oidc from 'openid-client';
import { UserAgent, isPage, type Page } from './user_agent.js';
import { RP } from './fixtures.js';

// openid-client as the relying party, and the hosted pages driven over HTTP by UserAgent.

export async function discover(issuer: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    secret ? { client_secret: secret } : { token_endpoint_auth_method: 'none' },
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out; the test issuers are plain HTTP
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface Credentials {
  login: string;
  password: string;
}

export interface AuthorizeOptions {
  redirectUri?: string;
  scope?: string;
  params?: Record<string, string>;
  /** credentials to type when the login page shows; omit to expect no login page */
  credentials?: Credentials;
  /** what to press when the consent page shows; omit to expect no consent page */
  consent?: 'allow' | 'deny';
  /** what to type on the second-factor code form (a TOTP or recovery code); omit to expect none */
  secondFactor?: () => string;
  ua?: UserAgent;
}

export interface AuthorizeResult {
  ua: UserAgent;
  /** where the browser was sent back to (with code or error) */
  callback: URL;
  codeVerifier: string;
  state: string;
  nonce: string;
  /** pages seen on the way, by kind */
  seen: { login: number; consent: number; secondFactor?: number };
}

function pageKind(page: Page): 'login' | 'consent' | 'mfa' | 'other' {
  if (page.$('form[action$="/login"] input[name="password"]').length) return 'login';
  if (page.$('form[action$="/mfa"] input[name="code"]').length) return 'mfa';
  if (page.$('form[action$="/confirm"]').length) return 'consent';
  return 'other';
}

/** Runs an authorization request through the hosted pages and returns the callback URL. */
export async function authorize(config: oidc.Configuration, options: AuthorizeOptions = {}): Promise<AuthorizeResult> {
  const ua = options.ua ?? new UserAgent();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri ?? `${RP}/callback`,
    scope: options.scope ?? 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.params,
  });
  const seen: AuthorizeResult['seen'] = { login: 0, consent: 0 };
  let result = await ua.follow(url.href, {}, RP);
  for (let step = 0; step < 5 && isPage(result); step++) {
    const kind = pageKind(result);
    if (kind === 'login') {
      if (!options.credentials) throw new Error('unexpected login page');
      seen.login++;
      result = await ua.submit(result, 'form[action$="/login"]', { ...options.credentials }, RP);
    } else if (kind === 'mfa') {
      if (!options.secondFactor) throw new Error('unexpected second-factor page');
      seen.secondFactor = (seen.secondFactor ?? 0) + 1;
      result = await ua.submit(result, 'form[action$="/mfa"]', { code: options.secondFactor() }, RP);
    } else if (kind === 'consent') {
      if (!options.consent) throw new Error('unexpected consent page');
      seen.consent++;
      result = await ua.submit(result, options.consent === 'allow' ? 'form[action$="/confirm"]' : 'form[action$="/abort"]', {}, RP);
    } else {
      throw Object.assign(new Error(`stopped at a ${result.status} page: ${result.$('h1').text()} ${result.$('.lead').text()}`), { page: result });
    }
  }
  if (isPage(result)) throw new Error(`did not return to the client: ${result.status} ${result.url}`);
  return { ua, callback: new URL(result.redirectedTo), codeVerifier, state, nonce, seen };
}

/** authorize() then the code exchange, verifying the ID token as an RP would. */
export async function signIn(config: oidc.Configuration, options: AuthorizeOptions = {}) {
  const result = await authorize(config, options);
  const tokens = await oidc.authorizationCodeGrant(config, result.callback, {
    pkceCodeVerifier: result.codeVerifier,
    expectedState: result.state,
    expectedNonce: result.nonce,
    idTokenExpected: (options.scope ?? 'openid').includes('openid'),
  });
  return { ...result, tokens };
}

export { oidc };
