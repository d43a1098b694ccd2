// The endpoints machines call in volume (oidc-provider's default paths, which create_provider.ts
// keeps): token, introspection, revocation, userinfo, and the two documents. Were the paths ever
// changed, these requests would only take the longer way.
export const MACHINE_PATHS: ReadonlySet<string> = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/.well-known/openid-configuration',
]);
