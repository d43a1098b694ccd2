import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, formatIssues, formatPath } from '../../../src/config/format_issues.js';

describe('formatPath', () => {
  it('writes array indexes in brackets and keys with dots', () => {
    expect(formatPath(['clients', 2, 'redirect_uris', 0])).toBe('clients[2].redirect_uris[0]');
    expect(formatPath(['apis', 0, 'scopes'])).toBe('apis[0].scopes');
  });

  it('starts with an index when the path does', () => {
    expect(formatPath([0, 'name'])).toBe('[0].name');
  });

  it('calls the empty path (root)', () => {
    expect(formatPath([])).toBe('(root)');
  });
});

describe('formatIssues', () => {
  it('gives one "path: message" line per issue', () => {
    const schema = z.object({ list: z.array(z.string().min(2, 'too short')), name: z.string({ error: 'required' }) });
    const result = schema.safeParse({ list: ['ok', 'x'] });
    expect(result.success).toBe(false);
    if (!result.success) expect(formatIssues(result.error)).toEqual(['list[1]: too short', 'name: required']);
  });
});

describe('ConfigError', () => {
  it('says where the problems are and lists each on its own indented line', () => {
    const error = new ConfigError('gatehouse.config.json', ['clients[0].client_id: must not be empty', 'apis: bad']);
    expect(error.message).toBe('gatehouse.config.json is invalid:\n  clients[0].client_id: must not be empty\n  apis: bad');
    expect(error.problems).toEqual(['clients[0].client_id: must not be empty', 'apis: bad']);
    expect(error.name).toBe('ConfigError');
  });
});
