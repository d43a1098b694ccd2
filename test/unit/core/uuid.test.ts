import { describe, expect, it } from 'vitest';
import { isUuid, UUID_PATTERN } from '../../../src/core/uuid.js';

// Account ids are uuids; anything else must be told apart before it reaches a ::uuid cast.

describe('isUuid', () => {
  it('accepts the hyphenated form, in either case', () => {
    expect(isUuid('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(true);
    expect(isUuid('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(true);
  });

  it('refuses what a cast would choke on or that is no account id', () => {
    for (const value of [
      '',
      'web',
      '------------------------------------',
      '0f8fad5bd9cb469fa16570867728950e',
      '0f8fad5b-d9cb-469f-a165-70867728950e\n',
      ' 0f8fad5b-d9cb-469f-a165-70867728950e',
      '0f8fad5b-d9cb-469f-a165-70867728950g',
    ]) {
      expect(isUuid(value), JSON.stringify(value)).toBe(false);
    }
  });

  it('is anchored, so SQL ~* agrees with it', () => {
    expect(UUID_PATTERN.startsWith('^')).toBe(true);
    expect(UUID_PATTERN.endsWith('$')).toBe(true);
  });
});
