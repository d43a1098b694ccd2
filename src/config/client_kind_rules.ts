import { jwksAlgs, type ClientJwks } from './client_jwks.js';

// What each kind of client must and must not register, beyond one field's own shape: native
// apps (RFC 8252), clients signing with their own keys (private_key_jwt) and the secret rules
// that follow from the authentication method. Reported with the field's path, as the schema does.

interface ClientKind {
  application_type?: 'web' | 'native' | undefined;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  token_endpoint_auth_method: string;
  token_endpoint_auth_signing_alg?: string | undefined;
  client_secret?: string | undefined;
  require_pkce?: boolean | undefined;
  jwks?: ClientJwks | undefined;
  jwks_uri?: string | undefined;
}

type Issue = (path: (string | number)[], message: string) => void;

const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);
const WEB_SCHEMES = new Set(['http:', 'https:']);

/** RFC 8252 7.1: a private-use scheme is a reversed domain name the app's owner controls. */
function privateUseSchemeProblem(url: URL): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  if (!scheme.includes('.')) return `private-use URI scheme "${scheme}" must be a reversed domain name the app owns, e.g. com.example.app (RFC 8252 7.1)`;
  return undefined;
}

function redirectUriProblem(client: ClientKind, uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined; // the field's own check says so
  }
  const native = client.application_type === 'native';
  if (!WEB_SCHEMES.has(url.protocol)) {
    if (!native) return `a private-use URI scheme ("${url.protocol}") is for native apps: set application_type "native"`;
    return privateUseSchemeProblem(url);
  }
  if (native && url.protocol === 'http:' && !LOOPBACK_IPS.has(url.hostname) && url.hostname !== 'localhost') {
    return 'a native app may use http only on a loopback address (http://127.0.0.1/… or http://[::1]/…, any port)';
  }
  return undefined;
}

function checkNative(client: ClientKind, issue: Issue): void {
  client.redirect_uris.forEach((uri, j) => {
    const problem = redirectUriProblem(client, uri);
    if (problem) issue(['redirect_uris', j], problem);
  });
  if (client.application_type === 'native' && client.require_pkce === false) {
    issue(['require_pkce'], 'a native app (application_type "native") must use PKCE (RFC 8252 8.1); only a confidential web client may set false');
  }
}

function checkSecret(client: ClientKind, issue: Issue): void {
  const method = client.token_endpoint_auth_method;
  const usesSecret = method !== 'none' && method !== 'private_key_jwt';
  if (!usesSecret && client.client_secret) {
    issue(
      ['client_secret'],
      method === 'none'
        ? 'a public client (token_endpoint_auth_method "none") must not have a secret'
        : 'must not be set for token_endpoint_auth_method "private_key_jwt": the client signs with its own key',
    );
  }
  if (usesSecret && !client.client_secret) {
    issue(['client_secret'], `is required for token_endpoint_auth_method "${method}"`);
  }
}

function checkKeys(client: ClientKind, issue: Issue): void {
  const signsWithKey = client.token_endpoint_auth_method === 'private_key_jwt';
  const hasKeys = client.jwks !== undefined || client.jwks_uri !== undefined;
  if (signsWithKey && !hasKeys) issue(['jwks'], 'a private_key_jwt client needs its public keys: jwks (inline) or jwks_uri');
  if (client.jwks !== undefined && client.jwks_uri !== undefined) issue(['jwks_uri'], 'give jwks or jwks_uri, not both (RFC 7591 2)');
  if (!signsWithKey && hasKeys) {
    issue([client.jwks ? 'jwks' : 'jwks_uri'], 'public keys are only used with token_endpoint_auth_method "private_key_jwt"');
  }
  const alg = client.token_endpoint_auth_signing_alg;
  if (alg === undefined) return;
  if (client.token_endpoint_auth_method === 'client_secret_jwt') {
    if (alg !== 'HS256') issue(['token_endpoint_auth_signing_alg'], 'client_secret_jwt signs with HS256');
  } else if (signsWithKey) {
    if (alg === 'HS256') issue(['token_endpoint_auth_signing_alg'], 'HS256 needs a shared secret: use client_secret_jwt');
    else if (client.jwks && !jwksAlgs(client.jwks).has(alg as never)) issue(['token_endpoint_auth_signing_alg'], `no key in jwks can verify ${alg}`);
  } else {
    issue(['token_endpoint_auth_signing_alg'], 'only for token_endpoint_auth_method "private_key_jwt" or "client_secret_jwt"');
  }
}

export function checkClientKind(
  client: ClientKind,
  at: (...path: (string | number)[]) => (string | number)[],
  ctx: { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void },
): void {
  const issue: Issue = (path, message) => ctx.addIssue({ code: 'custom', path: at(...path), message });
  checkNative(client, issue);
  checkSecret(client, issue);
  checkKeys(client, issue);
}
