import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readPidFile } from '../core/pid_file.js';
import { ConfigError, formatProblem, type Problem } from '../config/format_issues.js';
import { configWarnings, formatWarning } from '../config/config_warnings.js';
import { checkConfigFile, type CheckedConfigFile } from '../provider/config_file_problems.js';
import type { CliContext } from './cli_context.js';
import { CliError } from './cli_errors.js';

// `gatehouse config check [file]`: the checks the server makes at start (the zod schema, then
// oidc-provider's own client validation), without a database. Problems go to stdout one per
// line, `path: message`, so they can be read or grepped; the one-line verdict goes to stderr.
// Warnings (configWarnings) go to stdout too, as `warning: path: message`, and leave exit 0.
// `gatehouse config reload`: the same check, then SIGHUP to the running server found through
// its pid file (core/pid_file.ts; the server re-reads the file, process/serve.ts).

// load_config_file.ts reports a file it cannot read or parse under these pseudo-paths.
const UNREADABLE = /^\((file|syntax)\): /;

function unreadable(file: string, problems: string[]): CliError {
  const [first, ...rest] = problems.map((p) => p.replace(UNREADABLE, ''));
  return new CliError(`${file}: ${first ?? ''}${rest.length ? ` (and ${rest.length} more)` : ''}`);
}

/** Every problem of the file (ours and oidc-provider's), and the config when there are none. */
async function checkFile(file: string, ctx: CliContext): Promise<CheckedConfigFile> {
  const env = ctx.env(); // its own problems are the environment's, not the file's
  try {
    return await checkConfigFile(env, file, { env: ctx.io.env });
  } catch (error) {
    if (error instanceof ConfigError) throw unreadable(file, error.problems);
    throw error;
  }
}

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('the config file (clients and APIs)');
  const report = (file: string, problems: Problem[], after = '') => {
    for (const problem of problems) ctx.print(formatProblem(problem));
    return new CliError(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}${after}`);
  };

  config
    .command('check')
    .description('validate a config file (default: $CONFIG_FILE or ./gatehouse.config.json)')
    .argument('[file]', 'the file to check (.json, .yaml or .yml)')
    .action(async (fileArg: string | undefined) => {
      const file = fileArg ?? ctx.env().configFile;
      const { config, problems } = await checkFile(file, ctx);
      if (!config) throw report(file, problems);
      // Warnings do not fail the check: the server serves such a file (and logs the same lines).
      for (const warning of configWarnings(config)) ctx.print(`warning: ${formatWarning(warning)}`);
      ctx.print(`ok: ${config.clients.length} clients, ${config.apis.length} APIs`);
    });

  config
    .command('reload')
    .description('check $CONFIG_FILE, then have the running server reload it (SIGHUP to the pid in $PID_FILE, default $DATA_DIR/gatehouse.pid)')
    .action(async () => {
      const env = ctx.env();
      const file = env.configFile;
      // A file the server would refuse is not sent: it would keep serving the old one anyway,
      // and the reason would only be in its log.
      const { config, problems } = await checkFile(file, ctx);
      if (!config) throw report(file, problems, '; the server was not asked to reload (it keeps serving its current config)');
      const pid = await findServer(env.pidFile);
      try {
        process.kill(pid, 'SIGHUP');
      } catch (error) {
        throw new CliError(`cannot signal the server (pid ${pid}): ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
      }
      ctx.print(
        `asked the server (pid ${pid}) to reload ${file}: ${config.clients.length} clients, ${config.apis.length} APIs; ` +
          'it logs config.reloaded when done (or config.reload_failed and keeps the previous config)',
      );
    });
}

/** The pid of the running server, from its pid file, or the reason there is none to signal. */
async function findServer(pidFile: string): Promise<number> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined) {
    throw new CliError(`no running server: no pid file at ${pidFile} (a server writes it at start; set PID_FILE or DATA_DIR as the server has them)`);
  }
  if (Number.isNaN(pid)) throw new CliError(`${pidFile} does not hold a process id; delete it, the server writes it again at start`);
  try {
    process.kill(pid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') throw new CliError(`no running server: ${pidFile} names process ${pid}, which is not running (stale pid file; delete it)`);
    if (code === 'EPERM') throw new CliError(`process ${pid} (from ${pidFile}) belongs to another user: run this as the server's user`);
    throw error;
  }
  // A pid reused by an unrelated program must not get a SIGHUP (for most, a kill).
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (command !== undefined && !/node|gatehouse/i.test(command)) {
    throw new CliError(`no running server: ${pidFile} names process ${pid}, which is not Gatehouse (stale pid file; delete it)`);
  }
  return pid;
}
