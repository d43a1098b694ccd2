// A module that only some requests need (passkeys, mail, QR codes, upstream sign-in), imported
// on first use instead of at start: a server that answers only token requests never holds their
// code (a few MB of V8 heap each, which V8 then lets the old generation grow by several times
// under load). Concurrent first callers share one import; a failed import (broken install) is
// reported to its callers and tried again next time, not cached for ever.

export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (!loading) {
      const attempt = load();
      loading = attempt;
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading;
  };
}
