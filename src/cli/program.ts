import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { createCliContext, type CliIo } from './cli_context.js';
import { CliError, oneLine } from './cli_errors.js';
import { registerMigrateCommand } from './migrate_command.js';
import { registerUsersCommands } from './users_commands.js';
import { registerKeysCommands } from './keys_commands.js';
import { registerConfigCommands } from './config_commands.js';
import { registerSessionsCommands } from './sessions_commands.js';
import { registerClientsCommands } from './clients_commands.js';

export type { CliIo } from './cli_context.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function missingCommand(command: Command): CliError {
  const names = command.commands.map((c) => c.name()).filter((n) => n !== 'help');
  const path = [];
  for (let c: Command | null = command; c; c = c.parent) path.unshift(c.name());
  return new CliError(`missing command: ${path.join(' ')} <${names.join('|')}> (see ${path.join(' ')} --help)`);
}

/**
 * Runs one `gatehouse` command line (`argv` as in process.argv: node, script, args…) and
 * returns the exit code: 0 on success; 1 with one `gatehouse: <message>` line on stderr on
 * any error. Never throws, never exits the process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = createCliContext(io);
  const program = new Command('gatehouse');
  let current: Command = program;
  program
    .description('Administer a Gatehouse OpenID provider. Reads the same environment as the server (DATABASE_URL, DATA_DIR, CONFIG_FILE, …).')
    .version(version)
    // Set before any subcommand is added: subcommands inherit both.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      // Errors (and help shown because of one) are reported by the catch below, in one line.
      writeErr: () => undefined,
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true);

  registerMigrateCommand(program, ctx);
  registerUsersCommands(program, ctx);
  registerSessionsCommands(program, ctx);
  registerKeysCommands(program, ctx);
  registerConfigCommands(program, ctx);
  registerClientsCommands(program, ctx);
  // Which command group a missing subcommand belongs to, at any depth (`users roles`).
  const track = (command: Command): void => {
    if (command.commands.length === 0) return;
    command.hook('preSubcommand', (_group, subcommand) => {
      current = subcommand;
    });
    command.commands.forEach(track);
  };
  track(program);

  try {
    await program.parseAsync([...argv], { from: 'node' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      if (error.code === 'commander.help') error = missingCommand(current);
    }
    io.stderr.write(`gatehouse: ${oneLine(error)}\n`);
    return 1;
  }
}
