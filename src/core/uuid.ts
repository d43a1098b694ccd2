// Account ids (users.sub) are uuids. A string that is not one names no account: checked before
// it reaches a statement, because casting it to uuid would fail the whole statement (and, in a
// statement shared with other requests, theirs too).

/** The canonical hyphenated form, as a POSIX regular expression for SQL's `~*` and for JavaScript. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const UUID = new RegExp(UUID_PATTERN, 'i');

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
