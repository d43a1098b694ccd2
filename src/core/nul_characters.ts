// PostgreSQL's text and jsonb cannot hold U+0000, and jsonb cannot hold an unpaired UTF-16
// surrogate (`\ud800`): a query carrying one fails as a whole ("invalid byte sequence for
// encoding UTF8: 0x00", "unsupported Unicode escape sequence"). Request input can carry a NUL
// (`%00` in a parameter) and, through JSON (the `claims` parameter, a request object), a lone
// surrogate; JavaScript strings hold both happily. Code that stores or looks up what a request
// sent checks for them first and treats them as the client's mistake, not a server error.

/** Whether `value` is, or at any depth holds (as a value or a key), a string `test` accepts. */
function holdsText(value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (Array.isArray(value)) return value.some((inner) => holdsText(inner, test));
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) if (test(key) || holdsText(inner, test)) return true;
  }
  return false;
}

const hasNulChar = (text: string) => text.includes('\0');
// In a `u` regex a valid surrogate pair is one code point, so only a lone half matches \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u;
const unstorable = (text: string) => hasNulChar(text) || LONE_SURROGATE.test(text);

/** Whether `value` is, or (in arrays and objects, at any depth) holds, a string with a NUL. */
export function hasNul(value: unknown): boolean {
  return holdsText(value, hasNulChar);
}

/** Whether `value` is, or at any depth holds (as a value or a key), a string with a NUL or a lone surrogate. */
export function hasUnstorableText(value: unknown): boolean {
  return holdsText(value, unstorable);
}
