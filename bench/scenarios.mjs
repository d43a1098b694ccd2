import { basic, form } from './browser.mjs';
import { SECRETS } from './bench_config.mjs';
import { firstPartyAuth } from './flows.mjs';

// The load scenarios, as autocannon request descriptions. Each takes the tokens minted for the
// server under test (see tokens.mjs); both servers get exactly the same requests.

const FORM = 'application/x-www-form-urlencoded';
const serviceAuth = basic('service', SECRETS.service);
const introspectorAuth = basic('introspector', SECRETS.introspector);

const clientCredentials = (scope) => () => ({
  method: 'POST',
  path: '/token',
  headers: { authorization: serviceAuth, 'content-type': FORM },
  body: form({ grant_type: 'client_credentials', scope }),
});

/**
 * Refresh tokens rotate: each one is good for exactly one request. Every request takes an unused
 * token from the server's pool and puts back the one the response carries, so the pool never
 * runs dry and no token is presented twice. (A pool minted up front would not do: the
 * baseline's memory adapter keeps only 1,000 entries and would evict most of it.)
 */
function refresh(tokens) {
  const pool = tokens.refresh;
  return {
    method: 'POST',
    path: '/token',
    headers: { authorization: firstPartyAuth, 'content-type': FORM },
    requests: [
      {
        setupRequest(req) {
          const token = pool.take();
          return { ...req, body: form({ grant_type: 'refresh_token', refresh_token: token }) };
        },
        onResponse(status, body) {
          if (status !== 200) return;
          const next = /"refresh_token":"([^"]+)"/.exec(body)?.[1];
          if (next) pool.put(next);
        },
      },
    ],
  };
}

const introspection = (tokens) => ({
  method: 'POST',
  path: '/token/introspection',
  headers: { authorization: introspectorAuth, 'content-type': FORM },
  requests: [{ setupRequest: (req) => ({ ...req, body: form({ token: nextOf(tokens.opaque) }) }) }],
  check: (body) => body.includes('"active":true'),
});

const userinfo = (tokens) => ({
  method: 'GET',
  path: '/me',
  requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${nextOf(tokens.userinfo)}` } }) }],
  check: (body) => body.includes('"sub"'),
});

// Introspection and userinfo do not consume their token: a fixed set is replayed round-robin.
const cursors = new WeakMap();
function nextOf(list) {
  const i = cursors.get(list) ?? 0;
  cursors.set(list, i + 1);
  return list[i % list.length];
}

// `target`: issue 19's goal for Gatehouse ÷ baseline req/s.
export const SCENARIOS = [
  { id: 'cc_rs256', title: 'client_credentials → JWT (RS256)', target: 0.9, request: () => clientCredentials('rs:read')() },
  { id: 'cc_es256', title: 'client_credentials → JWT (ES256)', target: 0.8, request: () => clientCredentials('es:read')() },
  { id: 'refresh', title: 'refresh_token grant (rotating, RS256 JWT + ID token)', target: 0.8, request: refresh },
  { id: 'introspection', title: 'introspection of an opaque token', target: 0.8, request: introspection },
  { id: 'userinfo', title: 'userinfo', target: 0.8, request: userinfo },
  { id: 'discovery', title: 'discovery document', short: true, target: 0.9, request: () => ({ method: 'GET', path: '/.well-known/openid-configuration' }) },
  { id: 'jwks', title: 'JWKS', short: true, target: 0.9, request: () => ({ method: 'GET', path: '/jwks' }) },
];
