// SIGHUPs arrive whenever an operator or a deploy tool sends them, a few milliseconds apart at
// times. Two reloads running at once finish in any order, and the older file could win (in the
// database and in the serving provider). One reload runs at a time; signals arriving meanwhile
// are merged into one more reload, which reads the file afresh: the last file always wins.

export interface SerialReloads {
  /** asks for a reload; resolves when a reload that read the file after this call has finished */
  request(): Promise<void>;
}

/** `reload(requests)` is told how many requests it answers (for the log). */
export function serialReloads(reload: (requests: number) => Promise<void>): SerialReloads {
  let waiting = 0;
  let next: { promise: Promise<void>; resolve: () => void } | undefined;
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    while (waiting > 0) {
      const requests = waiting;
      const answered = next;
      if (!answered) throw new Error('reload requests waiting without a promise to answer them');
      waiting = 0;
      next = undefined;
      await reload(requests).catch(() => undefined);
      answered.resolve();
    }
    running = false;
  }

  return {
    request() {
      waiting++;
      if (!next) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        next = { promise, resolve };
      }
      const { promise } = next;
      if (!running) void drain();
      return promise;
    },
  };
}
