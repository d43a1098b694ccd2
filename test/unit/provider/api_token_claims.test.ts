import { describe, expect, it } from 'vitest';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { createApiTokenClaims } from '../../../src/provider/api_token_claims.js';
import { createFindAccount } from '../../../src/accounts/find_account.js';
import { createScopeClaims } from '../../../src/accounts/scope_claims.js';
import type { User, UsersRepo } from '../../../src/accounts/users_repo.js';
import { createResourceServers } from '../../../src/provider/resource_servers.js';
import { gatehouseConfigSchema } from '../../../src/config/gatehouse_config.js';
import { describeApiUserClaims } from '../../../src/pages/scope_descriptions.js';

// Which claims extraTokenClaims puts in a token, and where it gets the user: from the account the
// token endpoint has just found (no second read), else from the database; never for a token
// without a user or for an API without user_claims (no read at all).

const SUB = '0b8f5d2e-6a43-4f5e-9a1c-2d7e8f9a0b1c';
const TODO = 'https://todo.example';

const { apis } = gatehouseConfigSchema.parse({
  apis: [
    { identifier: TODO, name: 'ToDo API', scopes: ['todo:read'], user_claims: ['roles', 'department', 'email', 'name', 'updated_at', 'constructor'] },
    { identifier: 'https://plain.example', name: 'Plain API', scopes: ['plain:read'] },
  ],
});
const resources = createResourceServers(apis);

function user(overrides: Partial<User> = {}): User {
  return {
    sub: SUB,
    username: 'ada',
    email: 'ada@example.test',
    email_verified: true,
    name: null,
    given_name: null,
    family_name: null,
    claims: { roles: ['admin'], department: 'Research', shoe_size: 37 },
    password_hash: null,
    password_normalized: true,
    disabled: false,
    created_at: new Date(0),
    updated_at: new Date(1_700_000_000_000),
    ...overrides,
  };
}

function fakeUsers(found: User | undefined) {
  const reads: string[] = [];
  const users = {
    findBySub: (sub: string) => {
      reads.push(sub);
      return Promise.resolve(found);
    },
  } as Pick<UsersRepo, 'findBySub'> as UsersRepo;
  return { users, reads };
}

const tokenFor = (resource: string | undefined, accountId: string | null = SUB) => ({
  accountId: accountId ?? undefined,
  resourceServer: resource ? { identifier: () => resource } : undefined,
});
const ctxWith = (account?: unknown) => ({ oidc: { account } }) as unknown as KoaContextWithOIDC;

describe('extraTokenClaims (api_token_claims.ts)', () => {
  it('picks the listed claims: standard ones from the profile columns, others from users.claims, absent ones left out', async () => {
    const { users, reads } = fakeUsers(user());
    const claims = await createApiTokenClaims({ users, resources })(ctxWith(), tokenFor(TODO));
    // name is null and `constructor` is nobody's claim (not Object.prototype's either).
    expect(claims).toEqual({ roles: ['admin'], department: 'Research', email: 'ada@example.test', updated_at: 1_700_000_000 });
    expect(reads).toEqual([SUB]);
  });

  it('takes the user of the account the token endpoint found, without reading it again', async () => {
    const account = await createFindAccount(fakeUsers(user({ claims: { roles: ['reader'] } })).users, createScopeClaims())(ctxWith(), SUB);
    const { users, reads } = fakeUsers(user());
    const claims = await createApiTokenClaims({ users, resources })(ctxWith(account), tokenFor(TODO));
    expect(claims).toMatchObject({ roles: ['reader'] });
    expect(reads).toEqual([]);
  });

  it('gives nothing, and reads nothing, for a token without a user or for an API without user_claims', async () => {
    const { users, reads } = fakeUsers(user());
    const hook = createApiTokenClaims({ users, resources });
    expect(await hook(ctxWith(), tokenFor(TODO, null))).toBeUndefined();
    expect(await hook(ctxWith(), tokenFor('https://plain.example'))).toBeUndefined();
    expect(await hook(ctxWith(), tokenFor(undefined))).toBeUndefined();
    expect(await hook(undefined, tokenFor(TODO, null))).toBeUndefined();
    expect(reads).toEqual([]);
  });

  it('gives nothing for a disabled or deleted user, or one with none of the claims', async () => {
    expect(await createApiTokenClaims({ users: fakeUsers(user({ disabled: true })).users, resources })(ctxWith(), tokenFor(TODO))).toBeUndefined();
    expect(await createApiTokenClaims({ users: fakeUsers(undefined).users, resources })(ctxWith(), tokenFor(TODO))).toBeUndefined();
    const bare = user({ email: null, claims: {} });
    const onlyUpdated = await createApiTokenClaims({ users: fakeUsers(bare).users, resources })(ctxWith(), tokenFor(TODO));
    expect(onlyUpdated).toEqual({ updated_at: 1_700_000_000 });
  });
});

describe('describeApiUserClaims (the consent page words)', () => {
  it('names what the API will receive in one sentence', () => {
    expect(describeApiUserClaims('ToDo API', ['roles', 'department'])).toBe('ToDo API will receive your roles and department');
    expect(describeApiUserClaims('ToDo API', ['roles'])).toBe('ToDo API will receive your roles');
    expect(describeApiUserClaims('ToDo API', ['employee_number', 'email', 'cost-centre'])).toBe(
      'ToDo API will receive your employee number, email address and cost centre',
    );
    expect(describeApiUserClaims('ToDo API', ['roles', 'email_verified'])).toBe('ToDo API will receive your roles and whether your email address is verified');
    expect(describeApiUserClaims('ToDo API', ['constructor', 'toString'])).toBe('ToDo API will receive your constructor and toString');
    expect(describeApiUserClaims('ToDo API', [])).toBeUndefined();
  });
});
