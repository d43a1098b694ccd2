import { createHash, randomBytes } from 'node:crypto';
import { Browser, basic, form, request } from './browser.mjs';
import { FIRST_PARTY_REDIRECT, SECRETS } from './bench_config.mjs';

// Real OAuth flows, used to mint the tokens the load scenarios replay and, on Gatehouse, as the
// interactive sign-in scenario itself: authorize → login page → POST login (argon2) → redirects
// → code → token exchange, exactly what a browser and a relying party do.

const b64url = (buf) => buf.toString('base64url');

export const firstPartyAuth = basic('first-party', SECRETS.firstParty);

/**
 * Signs `credentials` in at `base` for the first-party client and exchanges the code.
 * Without credentials the server must not show a login form (the baseline's interactions finish
 * on their own). Returns the token response.
 */
export async function signIn(base, { scope, prompt, credentials }) {
  const browser = new Browser();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const params = {
    client_id: 'first-party',
    response_type: 'code',
    redirect_uri: FIRST_PARTY_REDIRECT,
    scope,
    state,
    nonce: b64url(randomBytes(16)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...(prompt ? { prompt } : {}),
  };
  let url = `${base}/auth?${form(params)}`;
  let res = await browser.go(url);
  let code;
  for (let step = 0; step < 12 && !code; step++) {
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      const next = new URL(res.headers.location, url);
      if (next.href.startsWith(FIRST_PARTY_REDIRECT)) {
        if (next.searchParams.get('state') !== state) throw new Error('sign-in: state mismatch');
        code = next.searchParams.get('code');
        if (!code) throw new Error(`sign-in: ${next.searchParams.get('error')} ${next.searchParams.get('error_description')}`);
        break;
      }
      url = next.href;
      res = await browser.go(url);
    } else if (res.status === 200 && credentials && res.body.includes('name="password"')) {
      const action = /<form method="post" action="([^"]+\/login)"/.exec(res.body)?.[1];
      if (!action) throw new Error('sign-in: login form without an action');
      // The form's hidden CSRF token, as a browser would send it (Gatehouse refuses the POST without it).
      const csrfToken = /name="csrf_token" value="([^"]*)"/.exec(res.body)?.[1];
      if (!csrfToken) throw new Error('sign-in: login form without a csrf_token');
      url = new URL(action, url).href;
      res = await browser.go(url, { method: 'POST', fields: { csrf_token: csrfToken, login: credentials.login, password: credentials.password } });
    } else {
      throw new Error(`sign-in stopped at ${res.status} ${url}: ${res.body.slice(0, 200)}`);
    }
  }
  if (!code) throw new Error('sign-in: too many steps');
  const tokens = await tokenRequest(base, firstPartyAuth, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: FIRST_PARTY_REDIRECT,
    code_verifier: verifier,
  });
  if (!tokens.id_token) throw new Error('sign-in: no id_token');
  return tokens;
}

export async function tokenRequest(base, authorization, fields, path = '/token') {
  const body = form(fields);
  const res = await request(`${base}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    body,
  });
  if (res.status !== 200) throw new Error(`${path} ${fields.grant_type ?? ''}: ${res.status} ${res.body}`);
  return JSON.parse(res.body);
}

/** Runs `fn(i)` for i in 0..count-1, at most `concurrency` at a time. */
export async function inParallel(count, concurrency, fn) {
  const out = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}
