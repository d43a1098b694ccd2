#!/usr/bin/env node
// A command-line app signing in with the device authorization grant (RFC 8628), as a TV or a CLI
// does: it has no browser and no secret (the `sample-device` client of
// examples/gatehouse.config.json). It asks Gatehouse for a code, tells you where to enter it,
// polls until you allow (or deny) it there, then prints the signed-in user's ID token claims.
// Plain JavaScript with openid-client v6: `node examples/device_sign_in.mjs`.
//
//   ISSUER     Gatehouse's issuer              (default http://localhost:3000)
//   CLIENT_ID  the client registered for it    (default sample-device)
//   SCOPE      what to ask for                 (default "openid profile email")
//
// Exit 0 with the claims as JSON on stdout; exit 1 with one line on stderr when the sign-in was
// denied, the code expired, or Gatehouse could not be reached.
import * as oidc from 'openid-client';

const ISSUER = process.env.ISSUER ?? 'http://localhost:3000';
const CLIENT_ID = process.env.CLIENT_ID ?? 'sample-device';
const SCOPE = process.env.SCOPE ?? 'openid profile email';

const REFUSALS = {
  access_denied: 'The sign-in was denied.',
  expired_token: 'The code expired before it was entered; run this again for a new one.',
};

async function main() {
  const config = await oidc
    .discovery(new URL(ISSUER), CLIENT_ID, undefined, oidc.None(), {
      // Plain http is for a local demonstration only.
      execute: ISSUER.startsWith('http://') ? [oidc.allowInsecureRequests] : [],
    })
    .catch((error) => {
      throw new Error(`cannot reach Gatehouse at ${ISSUER}: ${error.message}`, { cause: error });
    });
  const started = await oidc.initiateDeviceAuthorization(config, { scope: SCOPE });
  // stderr: what a person reads; stdout stays the claims, for a script to read.
  process.stderr.write(`To sign in, open ${started.verification_uri} and enter the code ${started.user_code}\n`);
  if (started.verification_uri_complete) process.stderr.write(`(or open ${started.verification_uri_complete})\n`);
  process.stderr.write('Waiting for you to allow it there...\n');
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, started);
  // openid-client has verified the ID token (issuer, audience, signature from the JWKS, expiry).
  process.stdout.write(`${JSON.stringify(tokens.claims(), null, 2)}\n`);
}

main().catch((error) => {
  const refusal = error instanceof oidc.ResponseBodyError ? REFUSALS[error.error] : undefined;
  process.stderr.write(`${refusal ?? `device sign-in failed: ${error.message}`}\n`);
  process.exit(1);
});
