import type { z } from 'zod';
import { GatehouseError } from '../core/errors.js';

// Renders zod issues as `clients[2].redirect_uris[0]: must be an absolute URL`,
// the form INTERFACE.md promises for `gatehouse config check`.
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

export class ConfigError extends GatehouseError {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super('ERR_CONFIG_INVALID', `${source} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
