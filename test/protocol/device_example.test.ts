import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load_config_file.js';
import type { User } from '../../src/accounts/users_repo.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { buildUser, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { REPO_ROOT } from '../support/spawn_gatehouse.js';
import { UserAgent } from '../support/user_agent.js';
import { DENY_FORM, allowDevice, asPage, enterUserCode } from '../support/device_pages.js';

// examples/device_sign_in.mjs run as a user runs it, against a Gatehouse serving the example
// config file (its `sample-device` client): it prints where to go and the code, the code is
// entered and allowed (or denied) over HTTP, and it prints the ID token's claims (or says no).

const EXAMPLE = path.join(REPO_ROOT, 'examples/device_sign_in.mjs');
const USER = buildUser({ name: 'Dev Ice' });

interface Run {
  /** resolves with the user code once the example has printed it */
  userCode: Promise<string>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function runExample(issuer: string): Run {
  const child = spawn(process.execPath, [EXAMPLE], { env: { PATH: process.env.PATH ?? '', ISSUER: issuer }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let found: (code: string) => void = () => undefined;
  const userCode = new Promise<string>((resolve) => (found = resolve));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const match = new RegExp(`open ${issuer}/device and enter the code ([A-Z]{4}-[A-Z]{4})`).exec(stderr);
    if (match) found(match[1]!);
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  void exit.then(({ stderr: text }) => found(`(exited without a code: ${text})`));
  return { userCode, exit };
}

describe('examples/device_sign_in.mjs', () => {
  let gh: RunningGatehouse;
  let users: User[];

  beforeAll(async () => {
    const { config } = await loadConfigFile(path.join(REPO_ROOT, 'examples/gatehouse.config.json'));
    ({ gh, users } = await startGatehouseWithUsers([USER], { config, env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } }));
  });
  afterAll(() => gh?.close());

  it('prints the code and where to enter it, and once allowed, the ID token claims of the user', async () => {
    const run = runExample(gh.issuer);
    const ua = new UserAgent();
    const confirm = await enterUserCode(ua, gh.issuer, await run.userCode);
    expect(confirm.$('h1').text()).toBe('Connect Sample device (CLI)?');
    await allowDevice(ua, confirm, { credentials: credentialsOf(USER), consent: 'allow' });
    const { code, stdout, stderr } = await run.exit;
    expect(stderr).toContain(`(or open ${gh.issuer}/device?user_code=`);
    expect(code).toBe(0);
    const claims = JSON.parse(stdout) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: gh.issuer, aud: 'sample-device', sub: users[0]!.sub, amr: ['pwd'] });
  });

  it('denied: one line saying so, exit 1', async () => {
    const run = runExample(gh.issuer);
    const ua = new UserAgent();
    const confirm = await enterUserCode(ua, gh.issuer, await run.userCode);
    asPage(await ua.submit(confirm, DENY_FORM));
    const { code, stdout, stderr } = await run.exit;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n').at(-1)).toBe('The sign-in was denied.');
  });
});
