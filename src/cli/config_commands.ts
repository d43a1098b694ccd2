import type { Command } from 'commander';
import { byPath, ConfigError, formatProblem, type Problem } from '../config/format_issues.js';
import { InvalidConfigFile, loadConfigFile } from '../config/load_config_file.js';
import { isWithin, type SalvagedConfig } from '../config/check_config_value.js';
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

// `path: message`; a path never holds ': '.
function splitProblem(line: string): Problem {
  const at = line.indexOf(': ');
  return { path: line.slice(0, at), message: line.slice(at + 2) };
}

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

      let config;
      let problems: Problem[] = [];
      let salvaged: SalvagedConfig;
      try {
        ({ config } = await loadConfigFile(file, { env: ctx.io.env }));
        salvaged = { config, clientAt: config.clients.map((_, i) => i) };
      } catch (error) {
        if (!(error instanceof InvalidConfigFile)) {
          if (error instanceof ConfigError) throw unreadable(file, error.problems);
          throw error;
        }
        problems = error.problems.map(splitProblem);
        ({ salvaged } = error);
      }
      // oidc-provider's own checks, on every client valid enough to be built, in the same run; a
      // place already reported is not reported twice (an unknown scope is ours and the library's).
      const validator = await createValidationProvider(env, salvaged.config);
      const libraryProblems = await clientProblems(validator, salvaged.config.clients, salvaged.clientAt);
      problems = byPath([...problems, ...libraryProblems.filter((p) => !problems.some((q) => isWithin(p.path, q.path) || isWithin(q.path, p.path)))]);
      if (problems.length || !config) throw report(problems.map(formatProblem));
      const { clients, apis } = config;
      // Warnings do not fail the check: the server serves such a file (and logs the same lines).
      for (const warning of configWarnings(config)) ctx.print(`warning: ${formatWarning(warning)}`);
      ctx.print(`ok: ${clients.length} clients, ${apis.length} APIs`);
    });
}
