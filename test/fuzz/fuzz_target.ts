import { createHmac, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';
import { startGatehouse, type RunningGatehouse, type StartOptions } from '../support/start_gatehouse.js';
import { ALICE, SECRETS, testConfig } from '../support/fixtures.js';
import { createWitness, WITNESS_CLIENT, type Witness } from './nothing_lost.js';
import { clientSchema, type GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { discover, signIn } from '../support/relying_party.js';
import type { JwtContext, KnownClient } from './hostile_input.js';
import type { Policy } from './safe_response.js';

// What every fuzz file starts from: a Gatehouse on a fresh database with alice and the test
// clients, the witness session made before any fuzzing, the redirect policy, and what the JWT
// generators need (the real key ids, and keys the server does not trust).

export interface FuzzTarget {
  gh: RunningGatehouse;
  policy: Policy;
  witness: Witness;
  clients: readonly KnownClient[];
  jwt: JwtContext;
  /** a separate signed-in browser session (not the witness's), as a Cookie header value */
  browserSession(): Promise<string>;
  close(): Promise<void>;
}

const KNOWN_CLIENTS: readonly KnownClient[] = [
  { clientId: 'web', secret: SECRETS.web },
  { clientId: 'spa' },
  { clientId: 'first-party', secret: SECRETS.firstParty },
  { clientId: 'service', secret: SECRETS.service },
  { clientId: 'introspector', secret: SECRETS.introspector },
];

/** Signs JWT input with keys Gatehouse does not trust, or with a client's own secret (HS256). */
function untrustedSigner(): JwtContext['sign'] {
  const rsa: KeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return (input, alg) => {
    const data = Buffer.from(input);
    if (alg === 'HS256') return createHmac('sha256', SECRETS.web).update(data).digest('base64url');
    if (alg === 'RS256') return sign('sha256', data, rsa).toString('base64url');
    if (alg === 'PS256') return sign('sha256', data, { key: rsa, padding: constants.RSA_PKCS1_PSS_PADDING }).toString('base64url');
    if (alg === 'ES256') return sign('sha256', data, { key: ec, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return Buffer.from('not a signature').toString('base64url');
  };
}

/**
 * The test clients plus the witness's own client. The fuzzing authenticates as every test client
 * with wrong secrets, and enough failures lock a client out for a while (client_auth_throttle.ts):
 * a lockout is no lost data, so the witness uses a client the fuzzing never names.
 */
function fuzzConfig(): GatehouseConfig {
  const base = testConfig();
  return testConfig({ clients: [...base.clients, clientSchema.parse(WITNESS_CLIENT)] });
}

export async function startFuzzTarget(options: StartOptions = {}): Promise<FuzzTarget> {
  const config = options.config ?? fuzzConfig();
  const gh = await startGatehouse({ ...options, config });
  await gh.createUser(ALICE);
  const witness = await createWitness(gh);
  const registered = config.clients.flatMap((c) => [...c.redirect_uris, ...c.post_logout_redirect_uris]);
  const jwks = (await (await fetch(`${gh.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  return {
    gh,
    policy: { issuer: gh.issuer, registered },
    witness,
    clients: KNOWN_CLIENTS,
    jwt: { issuer: gh.issuer, clientIds: KNOWN_CLIENTS.map((c) => c.clientId), kids: jwks.keys.map((k) => k.kid), sign: untrustedSigner() },
    async browserSession() {
      const web = await discover(gh.issuer, 'web', SECRETS.web);
      const { ua } = await signIn(web, {
        scope: 'openid profile email offline_access things:read',
        params: { prompt: 'consent' },
        credentials: { login: ALICE.username, password: ALICE.password },
        consent: 'allow',
      });
      return ua.jar.getCookieString(gh.issuer);
    },
    close: () => gh.close(),
  };
}
