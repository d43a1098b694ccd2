// PostgreSQL's text and jsonb cannot hold U+0000: a query carrying one fails as a whole
// ("invalid byte sequence for encoding UTF8: 0x00", "unsupported Unicode escape sequence").
// Request input can carry one (`%00` in a parameter), so code that stores or looks up what a
// request sent checks for it first and treats it as the client's mistake, not a server error.

/** Whether `value` is, or (in arrays and objects, at any depth) holds, a string with a NUL. */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) if (key.includes('\0') || hasNul(inner)) return true;
  }
  return false;
}
