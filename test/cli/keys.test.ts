import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKeys } from '../../src/oidc/key_store.js';
import { createCliDatabase, runCli, type CliDatabase } from './cli_harness.js';

// `gatehouse keys list` and `keys rotate` against a fresh database.

let cli: CliDatabase;
beforeAll(async () => {
  cli = await createCliDatabase();
});
afterAll(async () => {
  await cli?.close();
});

interface KeyRow {
  kid: string;
  kind: string;
  alg: string | null;
  state: string;
  retired_at: Date | null;
  material: unknown;
}

async function keyRows(): Promise<KeyRow[]> {
  return (await cli.db.query<KeyRow>('SELECT kid, kind, alg, state, retired_at, material FROM keys ORDER BY created_at')).rows;
}

const keys = (...args: string[]) => runCli(['keys', ...args], { env: cli.env });

function parseTable(stdout: string): Record<string, string>[] {
  const [header, ...lines] = stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/));
  return lines.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i]])));
}

/** Every secret part of every key: none may ever be printed. */
function secrets(rows: KeyRow[]): string[] {
  return rows.flatMap((r) => (typeof r.material === 'string' ? [r.material] : [(r.material as { d: string }).d]));
}

describe('gatehouse keys', () => {
  it('list says when there are no keys yet', async () => {
    const result = await keys('list');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^no keys yet/);
  });

  it('list shows kid, kind, alg, state and created for each key, and no key material', async () => {
    await ensureKeys(cli.db); // what a server does on its first start
    const result = await keys('list');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')[0]!.split(/\s+/)).toEqual(['kid', 'kind', 'alg', 'state', 'created']);
    const rows = await keyRows();
    expect(parseTable(result.stdout)).toEqual(
      expect.arrayContaining(
        rows.map((r) => ({ kid: r.kid, kind: r.kind, alg: r.alg ?? '-', state: 'active', created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) })),
      ),
    );
    expect(parseTable(result.stdout)).toHaveLength(3);
    for (const secret of secrets(rows)) expect(result.stdout).not.toContain(secret);
  });

  it('rotate makes a new active key of each kind and retires the old ones', async () => {
    const before = await keyRows();
    const result = await keys('rotate');
    expect(result).toMatchObject({ code: 0, stderr: '' });

    const after = await keyRows();
    const old = after.filter((r) => before.some((b) => b.kid === r.kid));
    const fresh = after.filter((r) => !before.some((b) => b.kid === r.kid));
    expect(old.map((r) => r.state)).toEqual(['retired', 'retired', 'retired']);
    expect(old.every((r) => r.retired_at instanceof Date)).toBe(true);
    expect(fresh.map((r) => [r.kind, r.alg, r.state]).sort()).toEqual([
      ['cookie', null, 'active'],
      ['signing', 'ES256', 'active'],
      ['signing', 'RS256', 'active'],
    ]);

    // It names the new kids, and says when servers start using them.
    for (const key of fresh) expect(result.stdout).toContain(key.kid);
    for (const key of old) expect(result.stdout).not.toContain(key.kid);
    expect(result.stdout).toMatch(/running servers pick up the new keys on restart/);
    for (const secret of secrets(after)) expect(result.stdout).not.toContain(secret);

    // list agrees with the table: old keys retired, new ones active.
    const listed = parseTable((await keys('list')).stdout);
    expect(listed).toHaveLength(6);
    for (const key of after) expect(listed.find((l) => l.kid === key.kid)?.state).toBe(fresh.includes(key) ? 'active' : 'retired');
  });
});
