import { expect } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { ALICE, RP } from '../support/fixtures.js';
import type { z } from 'zod';
import type { clientSchema } from '../../src/config/gatehouse_config.js';
import { authorize, discover, oidc, signIn } from '../support/relying_party.js';
import type { UserAgent } from '../support/user_agent.js';

// Proof that fuzzing lost nothing: a browser session and a refresh token made before the fuzzing
// must still work after it. The witness signs in once (alice, its own client, offline_access);
// `expectIntact` then signs in again with the same browser (no login page: the session is
// still there) and refreshes the token (rotation: the new refresh token is kept for next time).

/** openid-client's errors hide the OAuth error code: put it in the message. */
const explain =
  (what: string) =>
  (error: Error & { error?: string; error_description?: string }): never => {
    throw new Error(`${what} failed: ${error.error ?? error.message} ${error.error_description ?? ''}`, { cause: error });
  };

export interface Witness {
  readonly sub: string;
  expectIntact(): Promise<void>;
}

/** The witness's client: registered for the fuzz runs, never named by the fuzzing. */
export const WITNESS_CLIENT = {
  client_id: 'witness',
  client_secret: 'witness-secret-0123456789abcdef0123456',
  client_name: 'Witness',
  redirect_uris: [`${RP}/witness/callback`],
  grant_types: ['authorization_code', 'refresh_token'],
  scope: 'openid profile offline_access',
} satisfies z.input<typeof clientSchema>;

export async function createWitness(gh: RunningGatehouse): Promise<Witness> {
  const web = await discover(gh.issuer, WITNESS_CLIENT.client_id, WITNESS_CLIENT.client_secret);
  const redirectUri = WITNESS_CLIENT.redirect_uris[0];
  const first = await signIn(web, {
    redirectUri,
    scope: 'openid profile offline_access',
    params: { prompt: 'consent' },
    credentials: { login: ALICE.username, password: ALICE.password },
    consent: 'allow',
  });
  const sub = first.tokens.claims()!.sub;
  const ua: UserAgent = first.ua;
  let refreshToken = first.tokens.refresh_token;
  if (!refreshToken) throw new Error('the witness got no refresh token');

  return {
    sub,
    async expectIntact() {
      const again = await authorize(web, { ua, redirectUri, scope: 'openid profile' });
      expect(again.seen.login, 'the session made before fuzzing asks for a password again').toBe(0);
      const tokens = await oidc
        .authorizationCodeGrant(web, again.callback, {
          pkceCodeVerifier: again.codeVerifier,
          expectedState: again.state,
          expectedNonce: again.nonce,
        })
        .catch(explain('exchanging the code of a sign-in on the session made before fuzzing'));
      expect(tokens.claims()!.sub).toBe(sub);

      const refreshed = await oidc.refreshTokenGrant(web, refreshToken!).catch(explain('refreshing the token issued before fuzzing'));
      expect(refreshed.claims()?.sub ?? sub).toBe(sub);
      expect(refreshed.refresh_token).toBeTruthy();
      refreshToken = refreshed.refresh_token!;
      const info = await oidc.fetchUserInfo(web, refreshed.access_token, sub);
      expect(info.name).toBe(ALICE.name);
    },
  };
}
