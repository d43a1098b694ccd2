import type { z } from 'zod';
import { GatehouseError } from '../core/errors.js';
import { knownFields, unknownFieldMessage } from './unknown_fields.js';

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

export interface Problem {
  /** formatPath() of where it is */
  path: string;
  message: string;
}

export const formatProblem = (problem: Problem) => `${problem.path}: ${problem.message}`;

/**
 * One problem per issue; an object with unknown fields gives one per field, with the known field
 * it is most likely a typo of when `schema` (the schema parsed with) is given.
 */
export function issueProblems(error: z.ZodError, schema?: z.ZodType): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? knownFields(schema, issue.path) : [];
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: unknownFieldMessage(key, known) }));
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

export function formatIssues(error: z.ZodError, schema?: z.ZodType): string[] {
  return issueProblems(error, schema).map(formatProblem);
}

/** Problems in the order of their paths (`clients[2]` before `clients[10]`), then as found. */
export function byPath(problems: readonly Problem[]): Problem[] {
  return [...problems].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

export class ConfigError extends GatehouseError {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super('ERR_CONFIG_INVALID', `${source} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
