import type { Command } from 'commander';
import { ConfigError } from '../config/format_issues.js';
import { loadConfigFile } from '../config/load_config_file.js';
import { configWarnings, formatWarning } from '../config/config_warnings.js';
import { clientProblems, createValidationProvider } from '../provider/validate_clients.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';

// `gatehouse config check [file]`: the checks the server makes at start (the zod schema, then
// oidc-provider's own client validation), without a database. Problems go to stdout one per
// line, `path: message`, so they can be read or grepped; the one-line verdict goes to stderr.
// Warnings (configWarnings) go to stdout too, as `warning: path: message`, and leave exit 0.

// load_config_file.ts reports a file it cannot read or parse under these pseudo-paths.
const UNREADABLE = /^\((file|syntax)\): /;

function unreadable(file: string, problems: string[]): CliError {
  const [first, ...rest] = problems.map((p) => p.replace(UNREADABLE, ''));
  return new CliError(`${file}: ${first ?? ''}${rest.length ? ` (and ${rest.length} more)` : ''}`);
}

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('the config file (clients and APIs)');

  config
    .command('check')
    .description('validate a config file (default: $CONFIG_FILE or ./gatehouse.config.json)')
    .argument('[file]', 'the file to check (.json, .yaml or .yml)')
    .action(async (fileArg: string | undefined) => {
      const env = ctx.env();
      const file = fileArg ?? env.configFile;
      const report = (problems: string[]) => {
        for (const problem of problems) ctx.print(problem);
        return new CliError(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
      };

      let loaded;
      try {
        loaded = await loadConfigFile(file, { env: ctx.io.env });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        if (error.problems.every((p) => UNREADABLE.test(p))) throw unreadable(file, error.problems);
        throw report(error.problems);
      }
      const { clients, apis } = loaded.config;
      // Warnings do not fail the check: the server serves such a file (and logs the same lines).
      for (const warning of configWarnings(loaded.config)) ctx.print(`warning: ${formatWarning(warning)}`);
      const problems = await clientProblems(await createValidationProvider(env, loaded.config), clients);
      if (problems.length) throw report(problems);
      ctx.print(`ok: ${clients.length} clients, ${apis.length} APIs`);
    });
}
