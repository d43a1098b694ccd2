import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gatehouseConfigSchema, type GatehouseConfig } from './gatehouse_config.js';
import { ConfigError, byPath, formatProblem } from './format_issues.js';
import { checkConfigValue, type SalvagedConfig } from './check_config_value.js';
import { substituteEnv } from './env_substitution.js';
import { jsonSyntaxProblem, yamlResolveProblem, yamlSyntaxProblem } from './syntax_problems.js';

export interface LoadedConfig {
  config: GatehouseConfig;
  /** false when the default file was absent and an empty configuration is served */
  found: boolean;
}

function parseText(file: string, text: string): unknown {
  if (/\.ya?ml$/i.test(file)) {
    // Required for a YAML file only: a JSON config never loads the YAML parser.
    const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map(yamlSyntaxProblem));
    try {
      return doc.toJS();
    } catch (error) {
      throw new ConfigError(file, [yamlResolveProblem(error)]);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(file, [jsonSyntaxProblem(text)]);
  }
}

/** `${NAME}` in string values comes from `env` (env_substitution.ts). */
export function parseConfig(file: string, text: string, env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  const { value, problems, unresolved } = substituteEnv(parseText(file, text), env);
  // What the schema would say about a value still holding `${NAME}` is beside the point.
  const checked = checkConfigValue(value, unresolved);
  if (checked.ok && problems.length === 0) return checked.config;
  const schemaProblems = checked.ok ? [] : checked.problems;
  const all = byPath([...problems.map(splitProblem), ...schemaProblems]).map(formatProblem);
  throw new InvalidConfigFile(file, all, checked.ok ? { config: checked.config, clientAt: checked.config.clients.map((_, i) => i) } : checked.salvaged);
}

/** A config file with problems, and what of it is valid enough to check further. */
export class InvalidConfigFile extends ConfigError {
  readonly salvaged: SalvagedConfig;
  constructor(file: string, problems: string[], salvaged: SalvagedConfig) {
    super(file, problems);
    this.salvaged = salvaged;
  }
}

// substituteEnv() writes `path: message`; a path never holds ': '.
function splitProblem(line: string) {
  const at = line.indexOf(': ');
  return { path: line.slice(0, at), message: line.slice(at + 2) };
}

export interface LoadOptions {
  /** a missing file means an empty configuration instead of an error */
  optional?: boolean;
  /** where `${NAME}` references are looked up (default: process.env) */
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates the config file. A missing file is an error unless `optional`. */
export async function loadConfigFile(file: string, { optional = false, env = process.env }: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return { config: gatehouseConfigSchema.parse({}), found: false };
    throw new ConfigError(file, [code === 'ENOENT' ? '(file): not found' : `(file): cannot be read (${code ?? 'unknown error'})`]);
  }
  return { config: parseConfig(file, text, env), found: true };
}
