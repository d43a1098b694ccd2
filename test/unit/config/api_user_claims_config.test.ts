import { describe, expect, it } from 'vitest';
import { gatehouseConfigSchema } from '../../../src/config/gatehouse_config.js';
import { formatIssues } from '../../../src/config/format_issues.js';

// `apis[].user_claims` as `gatehouse config check` judges it: user claim names only, never the
// token's own protocol claims, each once.

const api = { identifier: 'https://todo.example', name: 'ToDo API', scopes: ['todo:read'] };

function problems(userClaims: unknown): string[] {
  const result = gatehouseConfigSchema.safeParse({ apis: [{ ...api, user_claims: userClaims }] });
  return result.success ? [] : formatIssues(result.error);
}

describe('apis[].user_claims', () => {
  it('defaults to none, and takes custom and standard claim names', () => {
    expect(gatehouseConfigSchema.parse({ apis: [api] }).apis[0]?.user_claims).toEqual([]);
    expect(problems(['roles', 'department', 'email', 'email_verified', 'preferred_username', 'urn:acme:team', 'cost-centre'])).toEqual([]);
  });

  it('refuses protocol claims, naming the entry', () => {
    for (const claim of ['sub', 'iss', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'cnf', 'azp', 'auth_time', 'acr', 'amr', 'sid', 'active']) {
      expect(problems(['roles', claim])).toEqual(['apis[0].user_claims[1]: is a protocol claim, set by Gatehouse itself, not a user claim']);
    }
  });

  it('refuses names that are not claim names, and a name listed twice', () => {
    for (const bad of ['', '1st', 'has space', '<b>', 'a/b', 'x'.repeat(65)]) {
      expect(problems([bad])[0]).toMatch(/^apis\[0\]\.user_claims\[0\]: must be a claim name/);
    }
    expect(problems(['roles', 'roles'])).toEqual(['apis[0].user_claims: must not list a claim twice']);
    expect(problems('roles')[0]).toMatch(/^apis\[0\]\.user_claims: /);
  });
});
