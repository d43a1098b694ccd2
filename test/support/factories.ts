import type { ClientConfig, GatehouseConfig } from '../../src/config/gatehouse_config.js';
import { gatehouseConfigSchema } from '../../src/config/gatehouse_config.js';
import type { NewUser } from '../../src/accounts/user_schema.js';
import type { User } from '../../src/accounts/users_repo.js';
import { RP, SECRETS, testConfig } from './fixtures.js';
import { discover, oidc, signIn, type AuthorizeOptions, type Credentials } from './relying_party.js';
import { startGatehouse, type RunningGatehouse, type StartOptions } from './start_gatehouse.js';

// Factories for what most test files set up the same way: a server with some users, a client
// added to the standard ones, a browser that has signed in. Each returns plain values, so a file
// still says in its own beforeAll what it starts from.

let sequence = 0;

/** A user nobody else in the run has (username, email), with a password the policy accepts. */
export function buildUser(overrides: Partial<NewUser> = {}): NewUser & { password: string } {
  const n = String(++sequence);
  const username = overrides.username ?? `user${String(process.pid)}x${n}`;
  return { username, email: `${username}@example.test`, name: `User ${n}`, password: `a long passphrase for ${username}`, ...overrides };
}

/** What a user types on the login page. */
export function credentialsOf(user: Pick<NewUser, 'username' | 'password'>): Credentials & Record<string, string> {
  return { login: user.username, password: user.password };
}

/** A confidential client entry for the config file, redirecting to RP/<client_id>/callback. */
export function buildClient(clientId: string, overrides: Partial<ClientConfig> = {}): Partial<ClientConfig> & { client_id: string } {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-0123456789abcdef0123456789`,
    redirect_uris: [`${RP}/${clientId}/callback`],
    scope: 'openid profile email',
    ...overrides,
  };
}

/** testConfig()'s clients and APIs plus `extra` clients (validated as the config file would be). */
export function configWithClients(...extra: (Partial<ClientConfig> & { client_id: string })[]): GatehouseConfig {
  const base = testConfig();
  return gatehouseConfigSchema.parse({ ...base, clients: [...base.clients, ...extra] });
}

export interface GatehouseWithUsers {
  gh: RunningGatehouse;
  /** the created users, in the order given */
  users: User[];
}

/** startGatehouse(options), then creates each user through the users repository. */
export async function startGatehouseWithUsers(users: NewUser[], options: StartOptions = {}): Promise<GatehouseWithUsers> {
  const gh = await startGatehouse(options);
  const created: User[] = [];
  try {
    for (const user of users) created.push(await gh.createUser(user));
  } catch (error) {
    await gh.close();
    throw error;
  }
  return { gh, users: created };
}

const STANDARD_SECRETS = { web: SECRETS.web, 'first-party': SECRETS.firstParty, service: SECRETS.service, introspector: SECRETS.introspector, spa: undefined };

/** An openid-client configuration for one of testConfig()'s clients, as its relying party has it. */
export function rpFor(gh: Pick<RunningGatehouse, 'issuer'>, clientId: keyof typeof STANDARD_SECRETS): Promise<oidc.Configuration> {
  return discover(gh.issuer, clientId, STANDARD_SECRETS[clientId]);
}

/**
 * A cookie-jar browser that has signed `user` in through the hosted pages (allowing consent when
 * asked) and come back to the client with tokens: its `ua` carries the Gatehouse session.
 */
export async function signedInBrowser(
  rp: oidc.Configuration,
  user: Pick<NewUser, 'username' | 'password'>,
  options: Omit<AuthorizeOptions, 'credentials'> = {},
) {
  return signIn(rp, { consent: 'allow', ...options, credentials: credentialsOf(user) });
}
