import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { gatehouseConfigSchema, type ClientConfig } from '../../src/config/gatehouse_config.js';
import { clientProblems, createValidationProvider } from '../../src/provider/validate_clients.js';
import { formatProblem } from '../../src/config/format_issues.js';

// oidc-provider's own check of our extra client metadata (extraClientMetadata.validator): the
// second line behind the config schema, for client rows that did not come through it.

const env = loadEnv({ ISSUER: 'http://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

async function problems(client: Record<string, unknown>): Promise<string[]> {
  const provider = await createValidationProvider(env, gatehouseConfigSchema.parse({}));
  const found = await clientProblems(provider, [
    { grant_types: ['authorization_code'], post_logout_redirect_uris: [], skip_consent: false, ...client } as unknown as ClientConfig,
  ]);
  return found.map(formatProblem);
}

describe('require_pkce in client metadata', () => {
  it('refuses false for a public client', async () => {
    expect(
      await problems({ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example.com/cb'], require_pkce: false }),
    ).toEqual(['clients[0].require_pkce: cannot be false for a public client (token_endpoint_auth_method "none")']);
  });

  it('refuses a value that is not a boolean', async () => {
    const found = await problems({
      client_id: 'web',
      client_secret: 'x'.repeat(40),
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://web.example.com/cb'],
      require_pkce: 'no',
    });
    expect(found).toEqual(['clients[0].require_pkce: must be a boolean']);
  });

  it('accepts false for a confidential client, and true for any', async () => {
    expect(
      await problems({
        client_id: 'web',
        client_secret: 'x'.repeat(40),
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: ['https://web.example.com/cb'],
        require_pkce: false,
      }),
    ).toEqual([]);
    expect(await problems({ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example.com/cb'], require_pkce: true })).toEqual(
      [],
    );
  });
});
