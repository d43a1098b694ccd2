import type { Command } from 'commander';
import { listKeys, rotateKeys } from '../oidc/key_store.js';
import type { CliContext } from './cli_context.js';
import { formatTable } from './format_table.js';

// `gatehouse keys …`: signing and cookie keys live in the database (see key_store.ts). Only kids
// and metadata are shown; key material never leaves the database through the CLI.

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
      ctx.print(formatTable(['kid', 'kind', 'alg', 'state', 'created'], rows.map((k) => [k.kid, k.kind, k.alg, k.state, k.created_at])));
    });

  keys
    .command('rotate')
    .description('make new active keys and retire the current ones')
    .action(async () => {
      const created = await ctx.withDb(async (db) => {
        const kids = await rotateKeys(db);
        return (await listKeys(db)).filter((k) => kids.includes(k.kid));
      });
      for (const key of created) ctx.print(`new ${key.kind} key ${key.kid}${key.alg ? ` (${key.alg})` : ''}`);
      ctx.print(
        'running servers pick up the new keys on restart; retired keys stay published, so tokens and cookies already issued keep working',
      );
    });
}
