import type Provider from 'oidc-provider';

// Two ID-token claims the library leaves out in the code flow, which relying parties use:
// - `sid` on every ID token (the library adds it only for clients that registered
//   backchannel_logout_session_required): RPs match back- and front-channel logouts with it;
// - `at_hash` on ID tokens from the token endpoint (OIDC Core 3.1.3.6 makes it optional there;
//   the library only adds it at the authorization endpoint): binds the ID token to the access
//   token issued with it.
// oidc-provider has no setting for either, so both are small wraps of its model classes.

const ISSUED_VALUE = Symbol('gatehouse.issuedValue');

type Saveable = { save: (...args: unknown[]) => Promise<string> } & Record<symbol, unknown>;
type IdTokenLike = {
  ctx?: { oidc?: { route?: string; entities?: { AccessToken?: Record<symbol, unknown> } } };
  set(key: string, value: unknown): void;
  issue: (options?: { use?: string }) => Promise<string>;
};

export function addSessionClaimsToIdTokens(provider: Provider): void {
  (provider.Client.prototype as { includeSid: () => boolean }).includeSid = () => true;

  const accessToken = provider.AccessToken.prototype as unknown as Saveable;
  const save = accessToken.save;
  accessToken.save = async function saveAndRemember(this: Saveable, ...args: unknown[]) {
    const value = await save.apply(this, args);
    this[ISSUED_VALUE] = value;
    return value;
  };

  const idToken = provider.IdToken.prototype as unknown as IdTokenLike;
  const issue = idToken.issue;
  idToken.issue = async function issueWithAtHash(this: IdTokenLike, options) {
    const value = this.ctx?.oidc?.entities?.AccessToken?.[ISSUED_VALUE];
    if (options?.use === 'idtoken' && this.ctx?.oidc?.route === 'token' && typeof value === 'string') {
      this.set('at_hash', value);
    }
    return issue.call(this, options);
  };
}
