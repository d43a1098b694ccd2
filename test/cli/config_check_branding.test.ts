import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../support/fixtures.js';
import { runCli } from './cli_harness.js';

// `gatehouse config check` on the `branding` section: a primary colour white text cannot be
// read on is refused with its measured contrast; one too dark for dark mode is served, with
// a warning naming the lighter variant the pages use there. (No colour reaches 4.5:1 against
// both white and #121212, the best manage 4.3:1: dark mode always needs a variant of its own.)

const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-config-branding-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(branding: unknown) {
  const target = path.join(dir, 'branded.json');
  await writeFile(target, JSON.stringify({ ...testConfig(), branding }));
  return runCli(['config', 'check', target], { env: NO_DATABASE });
}

describe('gatehouse config check: branding', () => {
  it('accepts a name and a logo', async () => {
    const result = await check({ name: 'Acme ID', logo_uri: 'https://cdn.acme.test/logo.svg' });
    expect(result).toEqual({ code: 0, stdout: 'ok: 5 clients, 2 APIs\n', stderr: '' });
  });

  it('refuses a primary colour under 4.5:1 against white, with the ratio and a darker shade that passes', async () => {
    const result = await check({ name: 'Acme ID', primary_color: '#ffcc00' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      'branding.primary_color: contrast 1.51:1 against white (button text, links on the light background) is below 4.5:1 (WCAG AA); a darker shade such as #8c7000 passes\n',
    );
  });

  it('warns about a colour too dark for dark mode and names the variant dark mode uses, with both ratios', async () => {
    const result = await check({ name: 'Acme ID', primary_color: '#0a66c2' });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      'warning: branding.primary_color: contrast 3.29:1 against the dark-mode background #121212 is below 4.5:1; dark mode uses the lighter #3b85ce (4.84:1) for links and accents\nok: 5 clients, 2 APIs\n',
    );
  });

  it('refuses a colour that is not #rrggbb and a logo that is not an http(s) URL', async () => {
    const result = await check({ name: 'Acme ID', primary_color: 'blue', logo_uri: 'javascript:alert(1)' });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('branding.primary_color: must be a colour as #rrggbb');
    expect(result.stdout).toContain('branding.logo_uri: must be an http(s) URL');
  });
});
