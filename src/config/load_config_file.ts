import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { gatehouseConfigSchema, type GatehouseConfig } from './gatehouse_config.js';
import { ConfigError, formatIssues } from './format_issues.js';

export interface LoadedConfig {
  config: GatehouseConfig;
  /** false when the default file was absent and an empty configuration is served */
  found: boolean;
}

function parseText(file: string, text: string): unknown {
  if (/\.ya?ml$/i.test(file)) {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(file, doc.errors.map((e) => `(syntax): ${e.message.split('\n')[0]}`));
    }
    return doc.toJS();
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`(syntax): ${(error as Error).message}`]);
  }
}

export function parseConfig(file: string, text: string): GatehouseConfig {
  const result = gatehouseConfigSchema.safeParse(parseText(file, text));
  if (!result.success) throw new ConfigError(file, formatIssues(result.error));
  return result.data;
}

/** Reads and validates the config file. A missing file is an error unless `optional`. */
export async function loadConfigFile(file: string, { optional = false } = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return { config: gatehouseConfigSchema.parse({}), found: false };
    throw new ConfigError(file, [code === 'ENOENT' ? '(file): not found' : `(file): cannot be read (${code})`]);
  }
  return { config: parseConfig(file, text), found: true };
}
