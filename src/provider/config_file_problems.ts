import type { Env } from '../config/env.js';
import type { GatehouseConfig } from '../config/gatehouse_config.js';
import { byPath, ConfigError, formatProblem, type Problem } from '../config/format_issues.js';
import { InvalidConfigFile, loadConfigFile, type LoadOptions } from '../config/load_config_file.js';
import { isWithin, type SalvagedConfig } from '../config/check_config_value.js';
import { clientProblems, createValidationProvider } from './validate_clients.js';

// Every problem of a config file in one run, oidc-provider's client rules included: for
// `gatehouse config check` and `config reload`, and for a start or SIGHUP refused, so a file is
// never fixed in stages (the schema's problems first, the library's only on the next try).

// `path: message`; a path never holds ': '.
function splitProblem(line: string): Problem {
  const at = line.indexOf(': ');
  return { path: line.slice(0, at), message: line.slice(at + 2) };
}

/** oidc-provider's problems with the clients valid enough to be built, beside `known` ones (not twice at one place). */
async function withLibraryProblems(env: Env, salvaged: SalvagedConfig, known: Problem[]): Promise<Problem[]> {
  const validator = await createValidationProvider(env, salvaged.config);
  const library = await clientProblems(validator, salvaged.config.clients, salvaged.clientAt);
  return byPath([...known, ...library.filter((p) => !known.some((q) => isWithin(p.path, q.path) || isWithin(q.path, p.path)))]);
}

export interface CheckedConfigFile {
  /** the configuration, when the file has no problem */
  config?: GatehouseConfig;
  problems: Problem[];
}

/**
 * Reads and checks the file. A file that cannot be read or parsed throws its ConfigError (with
 * the `(file)` / `(syntax)` pseudo-paths); anything else comes back as problems.
 */
export async function checkConfigFile(env: Env, file: string, options: LoadOptions = {}): Promise<CheckedConfigFile> {
  try {
    const { config } = await loadConfigFile(file, options);
    const problems = await withLibraryProblems(env, { config, clientAt: config.clients.map((_, i) => i) }, []);
    return problems.length ? { problems } : { config, problems };
  } catch (error) {
    if (!(error instanceof InvalidConfigFile)) throw error;
    return { problems: await withLibraryProblems(env, error.salvaged, error.problems.map(splitProblem)) };
  }
}

/** loadConfigFile(), but a file with problems is refused with all of them, the library's too. */
export async function loadCheckedConfigFile(env: Env, file: string, options: LoadOptions = {}): Promise<{ config: GatehouseConfig; found: boolean }> {
  try {
    return await loadConfigFile(file, options);
  } catch (error) {
    if (!(error instanceof InvalidConfigFile)) throw error;
    const problems = await withLibraryProblems(env, error.salvaged, error.problems.map(splitProblem));
    throw new ConfigError(file, problems.map(formatProblem));
  }
}
