import type { z } from 'zod';

// zod's default messages are written for programmers ("Invalid input: expected number, received
// NaN", "Invalid option: expected one of …"): an operator reading `gatehouse config check` or a
// start-up failure gets these instead. Passed as the per-parse error map, so a message written
// in a schema (`.min(1, 'must not be empty')`) still wins. Never quotes the value: it may be a
// secret.

type Issue = z.core.$ZodRawIssue;

const TYPE_WORDS: Record<string, string> = {
  string: 'must be text (a string)',
  number: 'must be a number',
  int: 'must be a whole number',
  boolean: 'must be true or false',
  array: 'must be a list',
  object: 'must be an object',
  null: 'must be null',
};

const quoted = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

function size(issue: Issue & { origin?: string }, bound: number | bigint, comparison: 'at least' | 'at most' | 'more than' | 'less than'): string {
  switch (issue.origin) {
    case 'string':
      return Number(bound) === 1 && comparison === 'at least' ? 'must not be empty' : `must be ${comparison} ${bound} characters long`;
    case 'array':
    case 'set':
      return Number(bound) === 1 && comparison === 'at least' ? 'must list at least one value' : `must list ${comparison} ${bound} values`;
    default:
      return `must be ${comparison} ${bound}`;
  }
}

function words(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      if (typeof issue.input === 'number' && Number.isNaN(issue.input)) return 'must be a number';
      return TYPE_WORDS[issue.expected] ?? 'has the wrong type';
    }
    case 'too_small':
      return issue.exact
        ? size(issue, issue.minimum, 'at least').replace('at least ', 'exactly ')
        : size(issue, issue.minimum, issue.inclusive === false ? 'more than' : 'at least');
    case 'too_big':
      return issue.exact
        ? size(issue, issue.maximum, 'at most').replace('at most ', 'exactly ')
        : size(issue, issue.maximum, issue.inclusive === false ? 'less than' : 'at most');
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${quoted(issue.values)}` : `must be one of ${quoted(issue.values)}`;
    case 'invalid_format':
      if (issue.format === 'url') return 'must be an absolute URL';
      if (issue.format === 'email') return 'must be an e-mail address';
      return 'is not in the required format';
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
    case 'invalid_union': {
      // `x.or(z.literal(''))` and the like: what the first form says is what the value missed.
      const first = (issue.errors as z.core.$ZodIssue[][] | undefined)?.[0]?.[0];
      if (!issue.discriminator && first && first.path.length === 0) return first.message;
      return issue.discriminator
        ? `must be one of ${quoted(((issue.options ?? []) as unknown[]).filter((o) => o !== undefined))}`
        : 'matches none of the accepted forms';
    }
    case 'invalid_key':
      return 'has a key that is not allowed';
    case 'invalid_element':
      return 'has a value that is not allowed';
    case 'custom':
      return 'is not valid';
    default:
      return 'is not valid';
  }
}

/** The per-parse error map: `schema.safeParse(value, { error: inOurWords })`. */
export const inOurWords = (issue: Issue): string => words(issue) ?? 'is not valid';
