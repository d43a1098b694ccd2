import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

// RFC 9449 7.1: a DPoP-bound access token presented without its proof is met with a 401 and a
// `WWW-Authenticate: DPoP` challenge, so the client knows to sign a proof (and with which
// algorithms) rather than give up. oidc-provider answers a `DPoP` authorization without a `DPoP`
// header as a malformed request (400 invalid_request); at userinfo, our protected resource, that
// answer becomes the challenge: 401 invalid_dpop_proof, keeping the library's realm and algs.

const DESCRIPTION = 'a DPoP proof (the DPoP header) is required with a DPoP-bound access token';

function missingProof(ctx: KoaContextWithOIDC): boolean {
  return /^dpop /i.test(ctx.get('authorization')) && ctx.get('dpop') === '';
}

export function challengeMissingDpopProofs(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    // ctx.oidc exists only on the library's own routes.
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    if (route !== 'userinfo' || ctx.status !== 400 || !missingProof(ctx as KoaContextWithOIDC)) return;
    const challenge = ctx.response.get('www-authenticate');
    const realm = /realm="[^"]*"/.exec(challenge)?.[0] ?? `realm="${provider.issuer}"`;
    const algs = /algs="[^"]*"/.exec(challenge)?.[0];
    ctx.status = 401;
    ctx.set('www-authenticate', ['DPoP ' + realm, 'error="invalid_dpop_proof"', `error_description="${DESCRIPTION}"`, ...(algs ? [algs] : [])].join(', '));
    ctx.body = { error: 'invalid_dpop_proof', error_description: DESCRIPTION };
  });
}
