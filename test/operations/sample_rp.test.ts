import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewUser } from '../../src/accounts/user_schema.js';
import { buildClient, buildUser, configWithClients, credentialsOf, startGatehouseWithUsers } from '../support/factories.js';
import { ALICE } from '../support/fixtures.js';
import { CONSENT_FORM, LOGIN_FORM, expectPage } from '../support/hosted_pages.js';
import { eventually } from '../support/eventually.js';
import { freePort, REPO_ROOT } from '../support/spawn_gatehouse.js';
import type { RunningGatehouse } from '../support/start_gatehouse.js';
import { UserAgent } from '../support/user_agent.js';

// examples/sample_rp.mjs, the relying party of the quickstart, run as a developer runs it
// against a real Gatehouse: it greets the signed-in user by name (issue #18, part 6), never by
// the UUID that is their `sub`, unless Gatehouse released nothing better.

const SECRET = 'sample-web-secret-0123456789abcdef0123';
const NAMELESS = buildUser({ name: undefined, given_name: undefined, family_name: undefined });

let gh: RunningGatehouse;
let rp: string;
let sample: ChildProcess;
let output = '';

beforeAll(async () => {
  const port = await freePort();
  rp = `http://127.0.0.1:${port}`;
  const client = buildClient('sample-web', { client_secret: SECRET, redirect_uris: [`${rp}/callback`], post_logout_redirect_uris: [`${rp}/`] });
  ({ gh } = await startGatehouseWithUsers([ALICE, NAMELESS], { config: configWithClients(client) }));
  sample = spawn(process.execPath, [path.join(REPO_ROOT, 'examples/sample_rp.mjs')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ISSUER: gh.issuer, PORT: String(port), BASE_URL: rp, CLIENT_ID: 'sample-web', CLIENT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sample.stdout!.on('data', (chunk) => (output += String(chunk)));
  sample.stderr!.on('data', (chunk) => (output += String(chunk)));
  await eventually(
    async () =>
      (await fetch(`${rp}/`).then(
        (r) => r.status,
        () => 0,
      )) === 200,
    { what: `the sample app to listen (${output})` },
  );
});
afterAll(async () => {
  if (sample && sample.exitCode === null) {
    const exited = once(sample, 'exit');
    sample.kill('SIGTERM');
    await exited;
  }
  await gh?.close();
});

async function signInThroughSample(user: Pick<NewUser, 'username' | 'password'>) {
  const ua = new UserAgent();
  const login = expectPage(await ua.follow(`${rp}/login`));
  const consent = expectPage(await ua.submit(login, LOGIN_FORM, credentialsOf(user)));
  const home = expectPage(await ua.submit(consent, CONSENT_FORM));
  expect(home.url).toBe(`${rp}/`);
  return home;
}

describe('the sample relying party', () => {
  it('greets the user by name', async () => {
    const home = await signInThroughSample(ALICE);
    expect(home.$('h1').text()).toBe('Hello, Alice Liddell');
  });

  it('greets a user without a name by their sign-in name, never by the sub', async () => {
    const home = await signInThroughSample(NAMELESS);
    const sub = home.$('p code').first().text();
    expect(sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(home.$('h1').text()).toBe(`Hello, ${NAMELESS.username}`);
    expect(home.$('h1').text()).not.toContain(sub);
  });
});
