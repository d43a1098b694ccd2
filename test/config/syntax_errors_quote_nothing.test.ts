import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from '../cli/cli_harness.js';
import { spawnGatehouse } from '../support/spawn_gatehouse.js';

// Issue #10, point 10: a config file holds client secrets, so a syntax error is reported by line
// and column only. V8's JSON.parse quotes the text around an unexpected token ("Unexpected token
// 's', "…" is not valid JSON"), so a secret sitting next to a typo used to reach the terminal and
// the server's start-up output.

const SECRET = 'zq-leaked-secret-7f3a9c2e5b1d4086';
const NO_DATABASE = { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/nothing-listens-here' };

// Each file has a secret on the line of its syntax error.
const broken = [
  // an unquoted value: JSON.parse says `Unexpected token 'z', "…zq-leaked-secret…" is not valid JSON`
  {
    name: 'unquoted.json',
    text: `{\n  "clients": [\n    { "client_id": "web", "client_secret": ${SECRET} }\n  ]\n}\n`,
    where: /not valid JSON at line 3, column \d+ \(/,
  },
  // a missing comma after the secret
  {
    name: 'comma.json',
    text: `{"clients": [{"client_id": "web", "client_secret": "${SECRET}" "redirect_uris": []}]}`,
    where: /not valid JSON at line 1, column \d+ \(/,
  },
  // a control character inside the secret's string
  {
    name: 'control.json',
    text: `{"clients": [{"client_id": "web", "client_secret": "${SECRET}\t${SECRET}"}]}`,
    where: /not valid JSON at line 1, column \d+ \(/,
  },
  // yaml quotes an unresolved alias's name in its message
  { name: 'alias.yaml', text: `clients:\n  - client_id: web\n    client_secret: *${SECRET}\n`, where: /not valid YAML \(an alias names no anchor\)/ },
  { name: 'quote.yaml', text: `clients:\n  - client_id: web\n    client_secret: "${SECRET}\n`, where: /not valid YAML at line \d+, column \d+ \(/ },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-syntax-'));
  for (const { name, text } of broken) await writeFile(path.join(dir, name), text);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a config file syntax error next to a secret', () => {
  it.each(broken)('gatehouse config check $name: line and column, no secret', async ({ name, where }) => {
    const file = path.join(dir, name);
    const result = await runCli(['config', 'check', file], { env: NO_DATABASE });
    expectOneLineError(result, where);
    expect(result.stderr + result.stdout).not.toContain('zq-leaked');
  });

  it.each(broken)('server start with $name: exit 1, line and column, no secret', { timeout: 60_000 }, async ({ name, where }) => {
    const file = path.join(dir, name);
    const server = await spawnGatehouse({ env: { ...NO_DATABASE, CONFIG_FILE: file }, waitReady: false });
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.output()).toMatch(where);
    expect(server.output()).not.toContain('zq-leaked');
  });
});
