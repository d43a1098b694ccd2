// Whether a failed statement was refused for the data it carried rather than for the state of
// the server: SQLSTATE class 22 (data exception: a jsonb string with an unpaired surrogate or
// a NUL, a malformed value) or 23 (integrity constraint). Rerunning the other rows of such a
// statement without the bad one succeeds; rerunning after a lost connection, a timeout or an
// overloaded server would only make every caller wait longer.

export function isRowDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}
