import type { Command } from 'commander';
import { listKeys, revokeKey, rotateKeys } from '../keys/key_store.js';
import type { CliContext } from './cli_context.js';
import { formatTable } from './format_table.js';
import { CliError } from './cli_errors.js';
import { auditCliAction } from './cli_audit.js';

// `gatehouse keys …`: signing and cookie keys live in the database (see key_store.ts). Only kids
// and metadata are shown; key material never leaves the database through the CLI.

const KID = /^[A-Za-z0-9_-]{1,128}$/;

export function registerKeysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('signing and cookie keys');

  keys
    .command('list')
    .description('list keys, active first')
    .action(async () => {
      const rows = await ctx.withDb((db) => listKeys(db));
      if (rows.length === 0) {
        ctx.print('no keys yet (the server generates them on first start; `gatehouse keys rotate` makes them now)');
        return;
      }
      ctx.print(
        formatTable(
          ['kid', 'kind', 'alg', 'state', 'activates', 'retired', 'created'],
          rows.map((k) => [k.kid, k.kind, k.alg, k.state, k.activates_at, k.retired_at, k.created_at]),
        ),
      );
    });

  keys
    .command('rotate')
    .description('publish new keys now and sign with them after the propagation delay')
    .option('--propagation <seconds>', 'override KEY_ROTATION_PROPAGATION_SECONDS for this rotation')
    .action(async (options: { propagation?: string }) => {
      const propagation = options.propagation === undefined ? ctx.env().keyPropagationSeconds : Number(options.propagation);
      if (!Number.isInteger(propagation) || propagation < 0) throw new CliError('--propagation must be a whole number of seconds');
      const { created, activatesAt } = await ctx.withDb(async (db) => {
        const { kids, activatesAt } = await rotateKeys(db, propagation);
        await auditCliAction(ctx, db, { event: 'keys.rotated', details: { kids, activates_at: activatesAt.toISOString() } });
        return { created: (await listKeys(db)).filter((k) => kids.includes(k.kid)), activatesAt };
      });
      for (const key of created) ctx.print(`new ${key.kind} key ${key.kid}${key.alg ? ` (${key.alg})` : ''}: ${key.state}`);
      ctx.print(
        `running servers publish the new keys within KEY_REFRESH_SECONDS and sign with them from ${activatesAt.toISOString()}; ` +
          'the current keys stay published after that until everything they signed has expired',
      );
    });

  keys
    .command('revoke')
    .description('delete a signing or cookie key immediately, for a leaked key: what it signed stops verifying')
    .argument('<kid>', 'the kid `gatehouse keys list` shows')
    .option('--yes', 'confirm: every token and session signed with this key dies')
    // A kid is base64url and may start with '-': take it as the argument, not an option.
    .allowUnknownOption()
    .action(async (kid: string, options: { yes?: boolean }) => {
      // Not echoed: an option typed by mistake (`--secret=…`) lands here too.
      if (!KID.test(kid)) throw new CliError('not a kid: kids are base64url (see gatehouse keys list)');
      if (!options.yes) {
        throw new CliError(`revoking key ${kid} ends every token and sign-in session it signed; run again with --yes to revoke it`);
      }
      const revoked = await ctx.withDb(async (db) => {
        const result = await revokeKey(db, kid);
        if (result) await auditCliAction(ctx, db, { event: 'keys.revoked', details: { ...result } });
        return result;
      });
      if (!revoked) throw new CliError(`no key with kid ${kid} (see gatehouse keys list)`);
      ctx.print(`revoked ${revoked.kind} key ${revoked.kid}${revoked.alg ? ` (${revoked.alg})` : ''}`);
      if (revoked.replacement) ctx.print(`${revoked.kind} key ${revoked.replacement} signs in its place from now on`);
      ctx.print('running servers stop publishing, using and accepting it within KEY_REFRESH_SECONDS');
    });
}
