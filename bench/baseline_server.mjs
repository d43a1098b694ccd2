// The baseline: bare oidc-provider on its built-in in-memory adapter, served by node:http with
// nothing in front of provider.callback(). Same clients (static, from the bench config), same
// resource servers, claims, token lifetimes and refresh policy as Gatehouse; keys are generated
// at start. Interactions finish at once for a fixed account: the baseline only needs sign-ins to
// mint tokens for the refresh and userinfo scenarios, never to be measured.
//
// Run as its own process by the bench runner: PORT and BENCH_CONFIG (a JSON file path).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { gatehouseConfigSchema } from '../dist/config/gatehouse_config.js';
import { clientMetadata } from '../dist/storage/client_sync.js';
import { createResourceServers } from '../dist/provider/resource_servers.js';
import { CLAIMS_BY_SCOPE } from '../dist/config/claim_names.js';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const config = gatehouseConfigSchema.parse(JSON.parse(readFileSync(process.env.BENCH_CONFIG, 'utf8')));
const resources = createResourceServers(config.apis);

const HOUR = 3600;
const DAY = 24 * HOUR;
const ACCOUNT = {
  sub: 'baseline-account',
  preferred_username: 'bench-user-0',
  name: 'Bench User 0',
  given_name: 'Bench',
  family_name: 'User 0',
  email: 'bench-user-0@example.test',
  email_verified: true,
  updated_at: Math.floor(Date.now() / 1000),
};

function signingKey(type, alg) {
  const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(12).toString('base64url'), alg, use: 'sig' };
}

// The built-in memory adapter, on a store with room for everything one bench run creates. Its
// default store keeps 1,000 entries: under refresh load it evicts, within a second, the tokens
// and grants the next scenarios replay, and the baseline would answer "not found".
const store = new LRU({ maxSize: 10_000_000 });

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: config.clients.map(clientMetadata),
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: () => ({ ...ACCOUNT, sub }) }),
  jwks: { keys: [signingKey('rsa', 'RS256'), signingKey('ec', 'ES256')] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  },
  claims: { ...CLAIMS_BY_SCOPE, openid: ['sub'] },
  scopes: ['openid', 'offline_access', 'profile', 'email', ...resources.scopes],
  extraClientMetadata: { properties: ['skip_consent', 'frontchannel_logout_uri', 'frontchannel_logout_session_required'] },
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    require_auth_time: true,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  rotateRefreshToken: () => true,
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The same policy as Gatehouse's (src/provider/create_provider.ts).
      allowedPolicy: async (_ctx, client, token) => {
        if (client.clientAuthMethod === 'none') return false;
        if (token.clientId === client.clientId) return true;
        const api = typeof token.aud === 'string' ? resources.byIdentifier(token.aud) : undefined;
        if (!api) return false;
        const allowed = new Set((client.scope ?? '').split(' '));
        return api.scopes.some((s) => allowed.has(s));
      },
    },
    revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' && token.clientId === client.clientId },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: resources.defaultResource,
      getResourceServerInfo: resources.getResourceServerInfo,
      useGrantedResource: async () => true,
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>${out.error}</title><p>${out.error}`;
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? HOUR,
    AuthorizationCode: 60,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 10 * 60,
    IdToken: HOUR,
    Interaction: HOUR,
    Session: 14 * DAY,
    Grant: 30 * DAY,
    RefreshToken: 14 * DAY,
  },
});

/** Signs in the fixed account and grants whatever is asked: the baseline has no users to check. */
async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details;
  const accountId = details.session.accountId;
  const clientId = details.params.client_id;
  const grant = (details.grantId && (await provider.Grant.find(details.grantId))) || new provider.Grant({ accountId, clientId });
  if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

// A healthy run answers every request: say why the first few refused ones were refused.
let reported = 0;
for (const event of ['grant.error', 'introspection.error', 'userinfo.error', 'server_error']) {
  provider.on(event, (_ctx, error) => {
    if (reported++ < 5) process.stderr.write(`${event}: ${error.error_detail ?? error.error_description ?? error.message}\n`);
  });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    finishInteraction(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error?.message ?? error));
    });
    return;
  }
  callback(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
