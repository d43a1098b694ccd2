import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, webAuthorizationUrl } from '../support/fixtures.js';
import { RawUserAgent } from '../support/raw_user_agent.js';
import { CONSENT_FORM, LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind } from '../support/hosted_pages.js';

// Every URL Gatehouse publishes or redirects to is built from ISSUER. oidc-provider builds them
// from the request's Host (and X-Forwarded-Host/-Proto behind a trusted proxy), so a request
// with `Host: evil.example` used to get discovery naming evil.example in every endpoint: a cache
// in front would then serve that to everyone. The attack is replayed with the proxy trusted
// (TRUST_PROXY=1), where the forwarded headers were believed too.

const EVIL = 'evil.example';
const FORGERIES: [string, Record<string, string>][] = [
  ['Host', { host: EVIL }],
  ['X-Forwarded-Host', { 'x-forwarded-host': EVIL }],
  ['Host, X-Forwarded-Host and X-Forwarded-Proto', { host: `${EVIL}:8443`, 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' }],
];

interface Seen {
  url: string;
  status: number;
  location: string | null;
  body: string;
}

class RecordingAgent extends RawUserAgent {
  readonly seen: Seen[] = [];
  override async request(url: string, init: Parameters<RawUserAgent['request']>[1] = {}) {
    const response = await super.request(url, init);
    this.seen.push({ url, status: response.status, location: response.headers.get('location'), body: await response.clone().text() });
    return response;
  }
}

/** Every absolute URL in a JSON document. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z]+:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

let gh: RunningGatehouse;
beforeAll(async () => {
  gh = await startGatehouse({ env: { TRUST_PROXY: '1' } });
  // One user per forgery: each signs in for the first time and meets the consent page.
  for (let i = 0; i < FORGERIES.length; i++) await gh.createUser({ ...ALICE, username: `alice${i}`, email: `alice${i}@example.test` });
});
afterAll(() => gh?.close());

describe.each(FORGERIES.map(([name, forged], i) => [name, forged, `alice${i}`] as const))('a forged %s', (_name, forged, username) => {
  it('gets discovery naming only the issuer', async () => {
    const ua = new RecordingAgent(forged);
    const response = await ua.request(`${gh.issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(EVIL);
    const discovery = JSON.parse(text) as Record<string, unknown>;
    expect(discovery.issuer).toBe(gh.issuer);
    const urls = urlsIn(discovery);
    expect(urls).toContain(`${gh.issuer}/auth`);
    for (const url of urls) expect(url === gh.issuer || url.startsWith(`${gh.issuer}/`), url).toBe(true);
  });

  it('signs in and out through URLs of the issuer only: authorize, interaction, resume, end-session', async () => {
    const ua = new RecordingAgent(forged);
    const login = expectPage(await ua.follow(webAuthorizationUrl(gh.issuer), {}, RP));
    expect(pageKind(login)).toBe('login');
    const consent = expectPage(await ua.submit(login, LOGIN_FORM, { login: username, password: ALICE.password }, RP));
    expect(pageKind(consent)).toBe('consent');
    const callback = expectRedirect(await ua.submit(consent, CONSENT_FORM, {}, RP));
    expect(callbackParams(callback).get('code')).toBeTruthy();
    expect(callbackParams(callback).get('iss')).toBe(gh.issuer);
    const confirm = expectPage(
      await ua.follow(`${gh.issuer}/session/end?client_id=web&post_logout_redirect_uri=${encodeURIComponent(`${RP}/signed-out`)}`, {}, RP),
    );
    const formAction = confirm.$('form[method="post"]').attr('action') ?? '';
    expect(formAction.startsWith(`${gh.issuer}/`) || formAction.startsWith('/'), formAction).toBe(true);
    const signedOut = expectRedirect(await ua.submit(confirm, 'form[method="post"]', {}, RP, { name: 'logout', value: 'yes' }));
    expect(signedOut.href).toBe(`${RP}/signed-out`);

    // Every redirect and page along the way: the interaction and resume URLs included.
    expect(ua.seen.length).toBeGreaterThan(6);
    expect(ua.seen.some((s) => s.location?.includes('/interaction/'))).toBe(true);
    expect(ua.seen.some((s) => s.location?.includes('/auth/'))).toBe(true);
    for (const seen of ua.seen) {
      expect(seen.body, seen.url).not.toContain(EVIL);
      if (!seen.location) continue;
      const target = new URL(seen.location, seen.url).href;
      expect(target.startsWith(`${gh.issuer}/`) || target.startsWith(`${RP}/`), `${seen.url} → ${seen.location}`).toBe(true);
    }
  });
});
