import { CommanderError } from 'commander';
import { ConfigError } from '../config/format_issues.js';
import { GatehouseError } from '../core/errors.js';

// The CLI's one promise about failure: exit 1 and ONE line `gatehouse: <message>` on stderr,
// whatever threw (commander, zod, pg, PGlite, our own checks), and never a stack trace.

/** A failure whose message is already meant for the operator. */
export class CliError extends GatehouseError {
  constructor(message: string) {
    super('ERR_CLI_REFUSED', message);
  }
}

// `--password=hunter2` typed by mistake must not be echoed back by "unknown option".
function hideOptionValues(message: string): string {
  return message.replace(/'(--?[^'=\s]+)=[^']*'/g, "'$1=…'");
}

function rawMessage(error: unknown): string {
  if (error instanceof CommanderError) return hideOptionValues(error.message.replace(/^error:\s*/, ''));
  if (error instanceof ConfigError) {
    const [head = ''] = error.message.split('\n');
    return `${head} ${error.problems.join('; ')}`;
  }
  if (error instanceof AggregateError && !error.message) {
    // pg's connection refused on every address of a host name
    return error.errors.map(rawMessage).join('; ');
  }
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}

export function oneLine(error: unknown): string {
  return (
    rawMessage(error)
      .replace(/\s*\n\s*/g, ' ')
      .trim() || 'failed'
  );
}
