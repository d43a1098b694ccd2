import { describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../../src/config/gatehouse_config.js';
import { formatIssues } from '../../../src/config/format_issues.js';

// What `gatehouse config check` (and a refused start) tells someone who made a typical mistake.

const SECRET = 'a-client-secret-long-enough-0123456789';
const web = { client_id: 'web', client_secret: SECRET, redirect_uris: ['https://app.example/cb'] };

function problems(config: unknown): string[] {
  const result = gatehouseConfigSchema.safeParse(config);
  return result.success ? [] : formatIssues(result.error);
}

describe('config file validation messages', () => {
  it('accepts an empty config and a minimal confidential client, filling in defaults', () => {
    expect(problems({})).toEqual([]);
    const parsed = gatehouseConfigSchema.parse({ clients: [web] });
    expect(parsed.clients[0]).toMatchObject({ grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', skip_consent: false });
  });

  it('names a misspelt key by its path instead of dropping it', () => {
    const found = problems({ clients: [{ ...web, redirect_uri: ['https://app.example/cb'] }] });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^clients\[0\]\.redirect_uri: unknown field/);
    expect(problems({ client: [] })[0]).toMatch(/^client: unknown field/);
  });

  it('points at the bad redirect URI', () => {
    expect(problems({ clients: [{ ...web, redirect_uris: ['https://ok.example/cb', '/callback'] }] })).toEqual([
      'clients[0].redirect_uris[1]: must be an absolute URL',
    ]);
    expect(problems({ clients: [{ ...web, redirect_uris: ['https://app.example/cb#frag'] }] })).toEqual([
      'clients[0].redirect_uris[0]: must not contain a fragment (#…)',
    ]);
  });

  it('wants http(s) for logout URIs', () => {
    expect(problems({ clients: [{ ...web, backchannel_logout_uri: 'ftp://app.example/logout' }] })).toEqual([
      'clients[0].backchannel_logout_uri: must be an http(s) URL',
    ]);
  });

  it('asks for a secret for a confidential client, and refuses one for a public client', () => {
    expect(problems({ clients: [{ client_id: 'web', redirect_uris: ['https://app.example/cb'] }] })).toEqual([
      'clients[0].client_secret: is required for token_endpoint_auth_method "client_secret_basic"',
    ]);
    expect(problems({ clients: [{ ...web, token_endpoint_auth_method: 'none' }] })).toEqual([
      'clients[0].client_secret: a public client (token_endpoint_auth_method "none") must not have a secret',
    ]);
  });

  it('refuses a public client without PKCE or with client_credentials', () => {
    const spa = { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example/cb'] };
    expect(problems({ clients: [{ ...spa, require_pkce: false }] })[0]).toMatch(/^clients\[0\]\.require_pkce: a public client .* must use PKCE/);
    expect(problems({ clients: [{ ...spa, grant_types: ['authorization_code', 'client_credentials'] }] })).toEqual([
      'clients[0].grant_types: client_credentials needs a confidential client',
    ]);
  });

  it('explains grant type combinations that cannot work', () => {
    expect(problems({ clients: [{ client_id: 'x', client_secret: SECRET }] })).toEqual([
      'clients[0].redirect_uris: must list at least one URI for the authorization_code grant',
    ]);
    expect(problems({ clients: [{ client_id: 'x', client_secret: SECRET, grant_types: ['client_credentials', 'refresh_token'] }] })).toEqual([
      'clients[0].grant_types: refresh_token needs authorization_code or the device_code grant',
    ]);
  });

  it('names duplicate and reserved client ids at the later entry', () => {
    expect(problems({ clients: [web, { ...web }] })).toEqual(['clients[1].client_id: duplicate client_id "web"']);
    expect(problems({ clients: [{ ...web, client_id: 'gatehouse-account' }] })[0]).toMatch(/^clients\[0\]\.client_id: "gatehouse-account" is reserved/);
  });

  it('refuses a client scope that no API owns, naming it', () => {
    expect(problems({ clients: [{ ...web, scope: 'openid things:read' }] })).toEqual([
      'clients[0].scope: unknown scope "things:read" (not a standard scope, an identity resource, nor owned by any API)',
    ]);
    const api = { identifier: 'https://api.example', name: 'API', scopes: ['things:read'] };
    expect(problems({ clients: [{ ...web, scope: 'openid things:read' }], apis: [api] })).toEqual([]);
  });

  it('refuses a scope token with a quote or a space inside', () => {
    expect(problems({ clients: [{ ...web, scope: 'openid "profile"' }] })).toContain('clients[0].scope: must be space-separated scope tokens');
  });

  it('keeps API scopes apart from standard scopes and from each other', () => {
    const api = (identifier: string, scopes: string[]) => ({ identifier, name: 'API', scopes });
    expect(problems({ apis: [api('https://a.example', ['openid'])] })).toEqual(['apis[0].scopes[0]: "openid" is a standard OpenID scope, not an API scope']);
    expect(problems({ apis: [api('https://a.example', ['x:read']), api('https://b.example', ['x:read'])] })).toEqual([
      'apis[1].scopes[0]: scope "x:read" already belongs to apis[0]',
    ]);
    expect(problems({ apis: [api('https://a.example', ['x:read']), api('https://a.example', ['y:read'])] })).toEqual([
      'apis[1].identifier: duplicate API identifier "https://a.example"',
    ]);
    expect(problems({ apis: [api('https://a.example', [])] })).toEqual(['apis[0].scopes: must list at least one scope']);
  });

  it('reports every problem at once, not just the first', () => {
    const found = problems({
      clients: [
        { client_id: '', redirect_uris: ['nope'] },
        { ...web, scope: 'bogus' },
      ],
    });
    expect(found).toEqual(expect.arrayContaining(['clients[0].client_id: must not be empty', 'clients[0].redirect_uris[0]: must be an absolute URL']));
    expect(found.length).toBeGreaterThanOrEqual(2);
  });
});
