import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, rpFor, startGatehouseWithUsers } from '../support/factories.js';
import { signIn, type oidc } from '../support/relying_party.js';
import { enrolTotp, secondFactorsOf, totpCode } from '../support/mfa.js';
import { expectOneLineError, runCli } from './cli_harness.js';
import type { User } from '../../src/accounts/users_repo.js';
import { createPasskeysRepo } from '../../src/storage/passkeys_repo.js';

// `gatehouse users mfa reset <username>`: an administrator's way back in for a user who lost
// their authenticator app. Every second factor goes (the app, recovery codes, and any other
// kind registered in FACTOR_KINDS), the user's sessions end, and it is audited; the next
// sign-in needs the password alone.

const USER = buildUser();
const OTHER = buildUser();
let gh: RunningGatehouse;
let users: User[];
let rp: oidc.Configuration;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  ({ gh, users } = await startGatehouseWithUsers([USER, OTHER]));
  rp = await rpFor(gh, 'web');
  cliEnv = gh.testDb.backend === 'postgres' ? { DATABASE_URL: gh.testDb.databaseUrl } : { DATA_DIR: gh.testDb.dataDir };
});
afterAll(() => gh?.close());

const count = async (sql: string, sub: string) => (await gh.testDb.db.query(sql, [sub])).rowCount;

describe('users mfa reset', () => {
  it('removes the authenticator app and recovery codes, ends the sessions, and audits it', async () => {
    const [user, other] = users as [User, User];
    const secret = await enrolTotp(gh, user.sub);
    await (await secondFactorsOf(gh)).regenerateRecoveryCodes(user.sub);
    const otherSecret = await enrolTotp(gh, other.sub);
    // A passkey (stored as /account stores one; its ceremonies are tested elsewhere) goes too.
    const passkey = { publicKey: new Uint8Array([1]), counter: 0, transports: [], name: 'Laptop', deviceType: 'singleDevice' as const, backedUp: false };
    await createPasskeysRepo(gh.testDb.db).add({ ...passkey, id: 'reset-cred-1', sub: user.sub });
    await createPasskeysRepo(gh.testDb.db).add({ ...passkey, id: 'reset-cred-2', sub: other.sub });
    const { ua } = await signIn(rp, { credentials: credentialsOf(USER), consent: 'allow', secondFactor: () => totpCode(secret, 0) });
    await signIn(rp, { credentials: credentialsOf(OTHER), consent: 'allow', secondFactor: () => totpCode(otherSecret, 0) });

    const result = await runCli(['users', 'mfa', 'reset', USER.username], { env: cliEnv });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^second factors removed \(totp 1, recovery_codes 10, passkeys 1\); 1 session ended,/);

    expect(await count('SELECT 1 FROM mfa_totp WHERE sub = $1', user.sub)).toBe(0);
    expect(await count('SELECT 1 FROM mfa_recovery_codes WHERE sub = $1', user.sub)).toBe(0);
    // Another user's factors are untouched.
    expect(await count('SELECT 1 FROM webauthn_credentials WHERE sub = $1', user.sub)).toBe(0);
    expect(await count('SELECT 1 FROM mfa_totp WHERE sub = $1', other.sub)).toBe(1);
    expect(await count('SELECT 1 FROM webauthn_credentials WHERE sub = $1', other.sub)).toBe(1);
    const { rows } = await gh.testDb.db.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE account_id = $1 AND event = 'mfa.reset'`,
      [user.sub],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toMatchObject({ actor: 'cli', removed: { totp: 1, recovery_codes: 10, passkeys: 1 }, sessions: 1 });

    // The old session is gone: the same browser is asked for the password again, and only the password.
    const again = await signIn(rp, { ua, credentials: credentialsOf(USER), consent: 'allow' });
    expect(again.seen).toMatchObject({ login: 1 });
    expect(again.seen.secondFactor).toBeUndefined();
  });

  it('names an unknown user in a one-line error (exit 1)', async () => {
    const result = await runCli(['users', 'mfa', 'reset', 'nobody-here'], { env: cliEnv });
    expectOneLineError(result, /no user named "nobody-here"/);
  });
});
