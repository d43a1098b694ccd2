import { describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import { formatIssues } from '../../src/config/format_issues.js';
import { createScopeClaims } from '../../src/accounts/scope_claims.js';

// `identity_resources` in the config file: what the check refuses (the conflict rule: a claim
// has one meaning and one scope), and the scope → claims mapping built from what it accepts.

const web = { client_id: 'web', client_secret: 'a-client-secret-long-enough-0123456789', redirect_uris: ['https://app.example/cb'] };
const employee = { name: 'employee', display_name: 'Employee details', claims: ['department', 'roles'] };
const api = { identifier: 'https://api.example', name: 'API', scopes: ['things:read'] };

function problems(config: unknown): string[] {
  const result = gatehouseConfigSchema.safeParse(config);
  return result.success ? [] : formatIssues(result.error);
}

describe('identity_resources in the config file', () => {
  it('are accepted, and a client may then list their names in its scope', () => {
    expect(problems({ identity_resources: [employee], clients: [{ ...web, scope: 'openid employee' }] })).toEqual([]);
    expect(problems({ clients: [{ ...web, scope: 'openid employee' }] })).toEqual([
      'clients[0].scope: unknown scope "employee" (not a standard scope, an identity resource, nor owned by any API)',
    ]);
  });

  it('refuse a name that is a built-in scope, an API scope, or another identity resource', () => {
    expect(problems({ identity_resources: [{ ...employee, name: 'profile' }] })).toEqual(['identity_resources[0].name: "profile" is a built-in scope']);
    expect(problems({ identity_resources: [{ ...employee, name: 'things:read' }], apis: [api] })).toEqual([
      'identity_resources[0].name: "things:read" is already a scope of apis[0]',
    ]);
    expect(problems({ identity_resources: [employee, { ...employee, claims: ['badge'] }] })).toEqual([
      'identity_resources[1].name: duplicate identity resource "employee"',
    ]);
  });

  it('refuse protocol claims, standard claims of the built-in scopes, and malformed names', () => {
    expect(problems({ identity_resources: [{ ...employee, claims: ['sub', 'aud', 'nonce'] }] })).toEqual([
      'identity_resources[0].claims[0]: "sub" is a protocol claim, set by the provider itself',
      'identity_resources[0].claims[1]: "aud" is a protocol claim, set by the provider itself',
      'identity_resources[0].claims[2]: "nonce" is a protocol claim, set by the provider itself',
    ]);
    expect(problems({ identity_resources: [{ ...employee, claims: ['email'] }] })).toEqual([
      'identity_resources[0].claims[0]: "email" is a standard claim, released by the built-in scope "email" from the user\'s profile',
    ]);
    expect(problems({ identity_resources: [{ ...employee, claims: ['two words'] }] })[0]).toMatch(/claims\[0\]: a claim name starts with a letter/);
  });

  it('refuse a claim released by two identity resources, or listed twice', () => {
    expect(problems({ identity_resources: [employee, { name: 'admin', display_name: 'Admin', claims: ['roles'] }] })).toEqual([
      'identity_resources[1].claims[0]: claim "roles" is already released by identity resource "employee"',
    ]);
    expect(problems({ identity_resources: [{ ...employee, claims: ['roles', 'roles'] }] })).toEqual([
      'identity_resources[0].claims[1]: "roles" is listed twice',
    ]);
  });

  it('need a display name and at least one claim, and nothing else', () => {
    expect(problems({ identity_resources: [{ name: 'x', display_name: '', claims: [] }] })).toEqual([
      'identity_resources[0].display_name: must not be empty',
      'identity_resources[0].claims: must list at least one claim',
    ]);
    expect(problems({ identity_resources: [{ ...employee, description: 'x' }] })[0]).toMatch(/^identity_resources\[0\]\.description: unknown field/);
  });
});

describe('the scope → claims mapping built from them', () => {
  const scopeClaims = createScopeClaims(gatehouseConfigSchema.parse({ identity_resources: [employee] }).identity_resources);

  it('adds the identity resources to the built-in scopes', () => {
    expect(scopeClaims.scopes).toEqual(['openid', 'offline_access', 'profile', 'email', 'employee']);
    expect(scopeClaims.providerClaims.employee).toEqual(['department', 'roles']);
    expect(scopeClaims.providerClaims.email).toEqual(['email', 'email_verified']);
  });

  it('covers a claim only for the scope that releases it', () => {
    expect([...scopeClaims.claimsCoveredBy(['openid', 'employee'])]).toEqual(['sub', 'department', 'roles']);
    expect(scopeClaims.claimsWithinScopes(['department', 'email', 'acr'], ['openid', 'profile'])).toEqual(['acr']);
    expect(createScopeClaims().claimsWithinScopes(['department'], ['employee'])).toEqual([]);
  });
});
