import { basic } from './browser.mjs';
import { SECRETS } from './bench_config.mjs';
import { inParallel, signIn, tokenRequest } from './flows.mjs';

// The tokens each server's scenarios replay, all minted through real flows on that server:
// sign-ins (authorization code + PKCE) for refresh and userinfo tokens, client_credentials for
// the opaque tokens a resource server introspects.

export const REFRESH_SCOPE = 'openid profile email offline_access rs:read';
const USERINFO_SCOPE = 'openid profile email';

/** Unused refresh tokens. A run loses the ones in flight when it stops; topUp() mints more. */
export class RefreshPool {
  #tokens = [];
  #mint;
  constructor(mint) {
    this.#mint = mint;
  }
  get size() {
    return this.#tokens.length;
  }
  take() {
    // First in, first out: every token waits about as long as the others. An empty pool makes
    // the request fail visibly (invalid_grant) rather than stall the run.
    return this.#tokens.shift() ?? 'pool-exhausted';
  }
  put(token) {
    this.#tokens.push(token);
  }
  async topUp(count, concurrency = 8) {
    const missing = count - this.#tokens.length;
    if (missing <= 0) return;
    const minted = await inParallel(missing, concurrency, (i) => this.#mint(i));
    this.#tokens.push(...minted);
  }
}

/**
 * `credentials(i)` gives the login for the i-th sign-in (Gatehouse), or undefined when the
 * server signs in without a form (the baseline).
 */
export async function mintTokens(server, { credentials, refresh, userinfo, opaque }) {
  const signInAs = (scope, prompt) => (i) => signIn(server.url, { scope, prompt, credentials: credentials(i) });
  // offline_access is only granted with prompt=consent (OIDC Core 11); skip_consent makes that
  // an automatic step for the first-party client.
  const mintRefresh = signInAs(REFRESH_SCOPE, 'consent');
  const pool = new RefreshPool(async (i) => (await mintRefresh(i)).refresh_token);
  await pool.topUp(refresh);
  const userinfoTokens = (await inParallel(userinfo, 8, signInAs(USERINFO_SCOPE))).map((t) => t.access_token);
  const service = basic('service', SECRETS.service);
  const opaqueTokens = (await inParallel(opaque, 8, () => tokenRequest(server.url, service, { grant_type: 'client_credentials', scope: 'notes:read' }))).map(
    (t) => t.access_token,
  );
  return { refresh: pool, userinfo: userinfoTokens, opaque: opaqueTokens };
}
