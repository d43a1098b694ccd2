import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeys } from '../../src/keys/key_store.js';
import { createCliDatabase, expectOneLineError, runCli, type CliDatabase } from './cli_harness.js';

// `gatehouse keys list` and `keys rotate` against a fresh database. A rotation publishes new
// keys first (state `next`) and signs with them only after the propagation delay
// (KEY_ROTATION_PROPAGATION_SECONDS, or --propagation); the keys they replace are `retired`.

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
  activates_at: Date;
  created_at: Date;
  material: unknown;
}

async function keyRows(): Promise<KeyRow[]> {
  return (await cli.db.query<KeyRow>('SELECT kid, kind, alg, activates_at, created_at, material FROM keys ORDER BY created_at, kind, alg')).rows;
}

const keys = (args: string[], env: Record<string, string> = {}) => runCli(['keys', ...args], { env: { ...cli.env, ...env } });

const HEADER = ['kid', 'kind', 'alg', 'state', 'activates', 'retired', 'created'];
const ISO_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

function parseTable(stdout: string): Record<string, string | undefined>[] {
  const [header, ...lines] = stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
  return lines.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i]])));
}

async function listed(): Promise<Record<string, string | undefined>[]> {
  const result = await keys(['list']);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  expect(result.stdout.split('\n')[0]!.split(/\s+/)).toEqual(HEADER);
  return parseTable(result.stdout);
}

const stateOf = (table: Record<string, string | undefined>[], kid: string) => table.find((row) => row.kid === kid)?.state;
const second = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Every secret part of every key: none may ever be printed. */
function secrets(rows: KeyRow[]): string[] {
  return rows.flatMap((r) => (typeof r.material === 'string' ? [r.material] : [(r.material as { d: string }).d]));
}

const KINDS = [
  ['cookie', null],
  ['signing', 'ES256'],
  ['signing', 'RS256'],
];

describe('gatehouse keys', () => {
  it('list says when there are no keys yet', async () => {
    const result = await keys(['list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^no keys yet/);
  });

  it('rotate on a database with no keys makes keys that sign at once (there is nothing to replace)', async () => {
    const result = await keys(['rotate'], { KEY_ROTATION_PROPAGATION_SECONDS: '3600' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const rows = await keyRows();
    expect(rows.map((r) => [r.kind, r.alg]).sort()).toEqual(KINDS);
    const table = await listed();
    for (const row of rows) expect(stateOf(table, row.kid)).toBe('active');
    // A server starting now can sign: its JWKS has one signing key per alg without key_ops.
    const loaded = await loadKeys(cli.db);
    expect(
      loaded.jwks.keys
        .filter((k) => k.key_ops === undefined)
        .map((k) => k.alg)
        .sort(),
    ).toEqual(['ES256', 'RS256']);
    expect(loaded.cookieKeys).toHaveLength(1);
  });

  it('list shows kid, kind, alg, state, activates, retired and created for each key, and no key material', async () => {
    const result = await keys(['list']);
    const rows = await keyRows();
    expect(parseTable(result.stdout)).toEqual(
      expect.arrayContaining(
        rows.map((r) => ({
          kid: r.kid,
          kind: r.kind,
          alg: r.alg ?? '-',
          state: 'active',
          activates: second(r.activates_at),
          retired: '-',
          created: expect.stringMatching(ISO_SECOND),
        })),
      ),
    );
    expect(parseTable(result.stdout)).toHaveLength(3);
    for (const secret of secrets(rows)) expect(result.stdout).not.toContain(secret);
  });

  it('rotate publishes a next key of each kind that activates after KEY_ROTATION_PROPAGATION_SECONDS; the current keys keep signing', async () => {
    const before = await keyRows();
    const started = Date.now();
    const result = await keys(['rotate'], { KEY_ROTATION_PROPAGATION_SECONDS: '3600' });
    expect(result).toMatchObject({ code: 0, stderr: '' });

    const after = await keyRows();
    const fresh = after.filter((r) => !before.some((b) => b.kid === r.kid));
    expect(fresh.map((r) => [r.kind, r.alg]).sort()).toEqual(KINDS);
    for (const key of fresh) {
      expect(key.activates_at.getTime()).toBeGreaterThanOrEqual(started + 3600_000 - 1000);
      expect(key.activates_at.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    }

    // It names each new kid as `next`, and says when servers start signing with them.
    for (const key of fresh) expect(result.stdout).toMatch(new RegExp(`new ${key.kind} key ${key.kid}(?: \\(\\w+\\))?: next$`, 'm'));
    for (const key of before) expect(result.stdout).not.toContain(key.kid);
    expect(result.stdout).toContain(fresh[0]!.activates_at.toISOString());
    expect(result.stdout).toMatch(/publish the new keys/);
    for (const secret of secrets(after)) expect(result.stdout).not.toContain(secret);

    const table = await listed();
    expect(table).toHaveLength(6);
    for (const key of before) expect(table.find((row) => row.kid === key.kid)).toMatchObject({ state: 'active', retired: '-' });
    for (const key of fresh)
      expect(table.find((row) => row.kid === key.kid)).toMatchObject({ state: 'next', activates: second(key.activates_at), retired: '-' });
    // `next` is listed before `active` within each kind and alg.
    const signingRs = table.filter((row) => row.alg === 'RS256').map((row) => row.state);
    expect(signingRs).toEqual(['next', 'active']);

    // Servers publish the next key but do not sign with it.
    const loaded = await loadKeys(cli.db);
    const rsNext = fresh.find((k) => k.alg === 'RS256')!;
    expect(loaded.jwks.keys.find((k) => k.kid === rsNext.kid)?.key_ops).toEqual(['verify']);
    expect(loaded.jwks.keys.find((k) => k.kid === before.find((b) => b.alg === 'RS256')!.kid)?.key_ops).toBeUndefined();
  });

  it('rotate --propagation 0 activates at once and retires the keys it replaces; a pending later key stays next', async () => {
    const before = await keyRows();
    const table0 = await listed();
    const wasActive = before.filter((r) => stateOf(table0, r.kid) === 'active');
    const wasNext = before.filter((r) => stateOf(table0, r.kid) === 'next');
    expect(wasActive).toHaveLength(3);
    expect(wasNext).toHaveLength(3);

    const result = await keys(['rotate', '--propagation', '0'], { KEY_ROTATION_PROPAGATION_SECONDS: '3600' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const after = await keyRows();
    const fresh = after.filter((r) => !before.some((b) => b.kid === r.kid));
    expect(fresh.map((r) => [r.kind, r.alg]).sort()).toEqual(KINDS);
    for (const key of fresh) expect(result.stdout).toMatch(new RegExp(`new ${key.kind} key ${key.kid}(?: \\(\\w+\\))?: active$`, 'm'));

    const table = await listed();
    expect(table).toHaveLength(9);
    for (const key of fresh) expect(stateOf(table, key.kid)).toBe('active');
    for (const key of wasNext) expect(stateOf(table, key.kid)).toBe('next');
    for (const key of wasActive) {
      // retired when its successor activated
      const successor = fresh.find((f) => f.kind === key.kind && f.alg === key.alg)!;
      expect(table.find((row) => row.kid === key.kid)).toMatchObject({ state: 'retired', retired: second(successor.activates_at) });
    }
    expect(table.filter((row) => row.alg === 'ES256').map((row) => row.state)).toEqual(['next', 'active', 'retired']);
  });

  it('refuses a --propagation that is not a whole number of seconds, and adds no key', async () => {
    const count = (await keyRows()).length;
    for (const bad of ['-5', 'soon', '1.5']) {
      expectOneLineError(await keys(['rotate', '--propagation', bad]), /--propagation must be a whole number of seconds/);
    }
    expect(await keyRows()).toHaveLength(count);
  });

  describe('revoke', () => {
    const live = async () => (await listed()).filter((row) => row.state !== 'expired');
    const audits = async (kid: string) =>
      (
        await cli.db.query<{ details: Record<string, unknown> }>(`SELECT details FROM audit_events WHERE event = 'keys.revoked' AND details->>'kid' = $1`, [
          kid,
        ])
      ).rows;

    it('refuses without --yes, says what it costs, and keeps the key', async () => {
      const [victim] = (await live()).filter((row) => row.state === 'active');
      const result = await keys(['revoke', victim!.kid!]);
      expectOneLineError(result, /ends every token and sign-in session it signed; run again with --yes/);
      expect(stateOf(await listed(), victim!.kid!)).toBe('active');
      expect(await audits(victim!.kid!)).toEqual([]);
    });

    it('an unknown kid: exit 1 with a message, nothing deleted', async () => {
      const count = (await keyRows()).length;
      expectOneLineError(await keys(['revoke', 'no-such-kid', '--yes']), /no key with kid no-such-kid/);
      // kids are base64url: one may start with '-'
      expectOneLineError(await keys(['revoke', '-Ab3xyz', '--yes']), /no key with kid -Ab3xyz /);
      // anything else is not echoed (an option typed by mistake may hold a secret)
      const typo = await keys(['revoke', '--secret=hunter2hunter2', '--yes']);
      expectOneLineError(typo, /not a kid/);
      expect(typo.stderr).not.toContain('hunter2');
      expect(await keyRows()).toHaveLength(count);
    });

    it('a key that does not sign (next or retired) is deleted, and nothing else changes', async () => {
      const before = await live();
      const victim = before.find((row) => row.state === 'retired' || row.state === 'next')!;
      expect(victim).toBeDefined();
      const { alg } = (await keyRows()).find((r) => r.kid === victim.kid)!;
      const result = await keys(['revoke', victim.kid!, '--yes']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain(`revoked ${victim.kind!} key ${victim.kid!}`);
      expect(result.stdout).not.toContain('in its place');
      const after = await live();
      expect(after.map((row) => row.kid).sort()).toEqual(
        before
          .filter((row) => row.kid !== victim.kid)
          .map((row) => row.kid)
          .sort(),
      );
      expect((await keyRows()).map((r) => r.kid)).not.toContain(victim.kid);
      expect(await audits(victim.kid!)).toEqual([{ details: { actor: 'cli', kid: victim.kid, kind: victim.kind, alg, replacement: null } }]);
    });

    it('the signing key of its kind: the next key of that line signs in its place at once', async () => {
      await keys(['rotate', '--propagation', '3600']);
      const before = await live();
      const cookieActive = before.find((row) => row.kind === 'cookie' && row.state === 'active')!;
      const cookieNext = before.filter((row) => row.kind === 'cookie' && row.state === 'next');
      expect(cookieNext).toHaveLength(1);
      const result = await keys(['revoke', cookieActive.kid!, '--yes']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain(`cookie key ${cookieNext[0]!.kid!} signs in its place`);
      const after = await live();
      expect(stateOf(after, cookieNext[0]!.kid!)).toBe('active');
      expect(after.map((row) => row.kid)).not.toContain(cookieActive.kid);
      expect(after.filter((row) => row.kind === 'cookie' && row.state === 'active')).toHaveLength(1);
    });

    it('the only key of its line that can sign: a new key is made that signs at once, so the line never goes without', async () => {
      const before = await live();
      const victim = before.find((row) => row.kind === 'signing' && row.alg === 'ES256' && row.state === 'active')!;
      // drop the pending ES256 key first, so none can take over
      for (const row of before.filter((r) => r.kind === 'signing' && r.alg === 'ES256' && r.state === 'next')) {
        expect((await keys(['revoke', row.kid!, '--yes'])).code).toBe(0);
      }
      const kidsBefore = new Set((await keyRows()).map((r) => r.kid));
      const result = await keys(['revoke', victim.kid!, '--yes']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const made = (await keyRows()).filter((r) => !kidsBefore.has(r.kid));
      expect(made.map((r) => [r.kind, r.alg])).toEqual([['signing', 'ES256']]);
      expect(result.stdout).toContain(`signing key ${made[0]!.kid} signs in its place`);
      const after = await live();
      expect(stateOf(after, made[0]!.kid)).toBe('active');
      expect(after.map((row) => row.kid)).not.toContain(victim.kid);
      const loaded = await loadKeys(cli.db);
      expect(loaded.jwks.keys.map((k) => k.kid)).not.toContain(victim.kid);
      expect(await audits(victim.kid!)).toEqual([{ details: { actor: 'cli', kid: victim.kid, kind: 'signing', alg: 'ES256', replacement: made[0]!.kid } }]);
    });
  });
});
