import path from 'node:path';
import type { Command } from 'commander';
import { listMigrations, migrate } from '../db/migrate.js';
import type { CliContext } from './cli_context.js';

// `gatehouse migrate`: what the server does at start, for operators who migrate before deploying.
export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const migrations = await listMigrations();
      const applied = await ctx.withDb((db) => migrate(db), { migrate: false });
      if (applied.length === 0) {
        ctx.print(`database is up to date (${migrations.length} migration${migrations.length === 1 ? '' : 's'} applied)`);
        return;
      }
      for (const m of migrations) if (applied.includes(m.version)) ctx.print(`applied ${path.basename(m.file)}`);
    });
}
