import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/format_issues.js';
import { startGatehouse, type RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP, SECRETS } from '../support/fixtures.js';
import { discover, oidc } from '../support/relying_party.js';
import { UserAgent } from '../support/user_agent.js';
import { LOGIN_FORM, callbackParams, expectPage, expectRedirect, pageKind, startAuthorization } from '../support/hosted_pages.js';

// TRUST_PROXY names the proxies in front; only the addresses they add to X-Forwarded-For count.
// The attack: a client sends its own X-Forwarded-For. A proxy that appends (nginx's
// $proxy_add_x_forwarded_for) passes it on as the left-most entry, followed by the address the
// proxy really saw. Gatehouse used to believe the left-most one: rotating it dodged the per-IP
// sign-in lockout, and any address could be written into audit rows and sessions. Here the test
// itself is the proxy (connecting from 127.0.0.1) and writes the header as such a proxy would.

const FP_CALLBACK = `${RP}/fp/callback`;
const REAL_CLIENT = '198.51.100.9';

/** A client that sends `forged` as its X-Forwarded-For, passed through a proxy that appends what it saw. */
class BehindAppendingProxy extends UserAgent {
  constructor(
    private readonly forged: () => string,
    private readonly seenByProxy = REAL_CLIENT,
  ) {
    super();
  }
  override request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'x-forwarded-for': `${this.forged()}, ${this.seenByProxy}`, ...init.headers } });
  }
}

async function signInAs(rp: oidc.Configuration, login: string, password: string, ua: UserAgent) {
  const started = await startAuthorization(rp, { redirectUri: FP_CALLBACK, ua });
  const page = expectPage(started.landing);
  expect(pageKind(page)).toBe('login');
  return started.ua.submit(page, LOGIN_FORM, { login, password }, RP);
}

async function auditIps(gh: RunningGatehouse, event: string): Promise<(string | null)[]> {
  const { rows } = await gh.testDb.db.query<{ ip: string | null }>('SELECT ip FROM audit_events WHERE event = $1 ORDER BY id', [event]);
  return rows.map((r) => r.ip);
}

let counter = 0;
/** A different made-up address on every request. */
const rotating = () => `203.0.113.${(counter++ % 250) + 1}`;

describe('TRUST_PROXY=1 behind a proxy that appends to X-Forwarded-For', () => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    gh = await startGatehouse({
      env: { TRUST_PROXY: '1', LOGIN_MAX_FAILURES_PER_IP: '5', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_LOCKOUT_SECONDS: '60' },
    });
    await gh.createUser(ALICE);
    rp = await discover(gh.issuer, 'first-party', SECRETS.firstParty);
  });
  afterAll(() => gh?.close());

  it('locks the real address after wrong sign-ins however the client rotates its forged X-Forwarded-For', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push(expectPage(await signInAs(rp, `guess-${i}`, 'password1', new BehindAppendingProxy(rotating))).status);
    }
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(statuses.slice(4)).toEqual(Array(16).fill(429));
    // The lockout is on the address the proxy saw, never on one the client wrote.
    expect(await auditIps(gh, 'login.locked')).toEqual([REAL_CLIENT]);
    expect(new Set(await auditIps(gh, 'login.failure'))).toEqual(new Set([REAL_CLIENT]));
    // Alice at that address is locked out too; Alice elsewhere is not, whatever she forged.
    expect(expectPage(await signInAs(rp, ALICE.username, ALICE.password, new BehindAppendingProxy(rotating))).status).toBe(429);
    const elsewhere = new BehindAppendingProxy(() => REAL_CLIENT, '198.51.100.77');
    expect(callbackParams(expectRedirect(await signInAs(rp, ALICE.username, ALICE.password, elsewhere))).get('code')).toBeTruthy();
    expect((await auditIps(gh, 'login.success')).at(-1)).toBe('198.51.100.77');
  });

  it('oidc-provider sees the same client address as the sign-in pages (client authentication failures)', async () => {
    const response = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('service:wrong-secret').toString('base64')}`,
        'x-forwarded-for': '192.0.2.66, 198.51.100.31',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(401);
    expect(await auditIps(gh, 'client_auth.failure')).toEqual(['198.51.100.31']);
  });
});

describe('TRUST_PROXY as a list of proxy addresses', () => {
  let gh: RunningGatehouse;
  let rp: oidc.Configuration;
  afterAll(() => gh?.close());

  it('ignores the X-Forwarded-For of a peer that is not a listed proxy', async () => {
    gh = await startGatehouse({ env: { TRUST_PROXY: '10.0.0.0/8, 192.0.2.1', LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_LOCKOUT_SECONDS: '60' } });
    rp = await discover(gh.issuer, 'first-party', SECRETS.firstParty);
    // The test connects from 127.0.0.1, which the list does not name: its header counts for nothing.
    for (let i = 0; i < 3; i++) await signInAs(rp, `guess-${i}`, 'password1', new BehindAppendingProxy(rotating, rotating()));
    expect(await auditIps(gh, 'login.locked')).toEqual(['127.0.0.1']);
    expect(new Set(await auditIps(gh, 'login.failure'))).toEqual(new Set(['127.0.0.1']));
  });

  it('believes a listed proxy, and only the entry it added', async () => {
    await gh.close();
    gh = await startGatehouse({ env: { TRUST_PROXY: '10.0.0.0/8,127.0.0.0/8' } });
    await gh.createUser(ALICE);
    rp = await discover(gh.issuer, 'first-party', SECRETS.firstParty);
    const ua = new BehindAppendingProxy(() => '192.0.2.200', '198.51.100.40');
    expect(callbackParams(expectRedirect(await signInAs(rp, ALICE.username, ALICE.password, ua))).get('code')).toBeTruthy();
    expect(await auditIps(gh, 'login.success')).toEqual(['198.51.100.40']);
  });
});

describe('TRUST_PROXY values', () => {
  const parse = (value: string) => loadEnv({ TRUST_PROXY: value });

  it('takes a hop count, a list of addresses and CIDRs, or off', () => {
    expect(parse('1').trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(parse('2').trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(parse('10.0.0.0/8, 192.0.2.1,2001:db8::/32').trustProxy).toEqual({ kind: 'addresses', addresses: ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32'] });
    expect(parse('loopback').trustProxy).toEqual({ kind: 'addresses', addresses: ['loopback'] });
    for (const off of ['', '0', 'false', 'off', 'no']) expect(parse(off).trustProxy).toEqual({ kind: 'off' });
    expect(loadEnv({}).trustProxy).toEqual({ kind: 'off' });
  });

  it('keeps the old true/yes/on as one hop, with a deprecation to log', () => {
    for (const old of ['true', 'yes', 'on', 'TRUE']) {
      const env = parse(old);
      expect(env.trustProxy).toEqual({ kind: 'hops', hops: 1 });
      expect(env.trustProxyDeprecation).toMatch(/deprecated.*TRUST_PROXY=1/);
    }
    expect(parse('1').trustProxyDeprecation).toBeUndefined();
  });

  it('refuses a value that names no proxy, with a clear message', () => {
    for (const bad of ['banana', '10.0.0.0/99', '300.1.1.1', '10.0.0.1,,10.0.0.2', '-1', '1.5', '99']) {
      expect(() => parse(bad), bad).toThrow(ConfigError);
      expect(() => parse(bad), bad).toThrow(/TRUST_PROXY/);
    }
  });

  it('says so at start-up when an old spelling is used', async () => {
    const gh = await startGatehouse({ env: { TRUST_PROXY: 'true' } });
    try {
      expect(gh.logs).toContainEqual(expect.objectContaining({ level: 40, event: 'config.deprecated', variable: 'TRUST_PROXY' }));
    } finally {
      await gh.close();
    }
  });
});
