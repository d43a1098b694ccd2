// How many guesses a password would take a guesser who knows how people choose them: zxcvbn
// (Dropbox's estimator, maintained as zxcvbn-ts), with its common and English dictionaries,
// keyboard graphs, and repeat/sequence/date/l33t patterns. It runs when a password is set
// (CLI, /account), never on sign-in; its dictionaries (a few MB) are imported on the first use,
// so a server that never sets a password never loads them.

/** zxcvbn's score 2: at least 10^6 guesses ("somewhat guessable" is score 1 and below). */
const MIN_SCORE = 2;

/** Null when the password is strong enough; otherwise zxcvbn's reason, as a short phrase ('' when it gives none). */
export type StrengthEstimator = (password: string, userInputs: string[]) => Promise<string | null>;

const MEASURED_LENGTH = 64;

let loading: Promise<StrengthEstimator> | undefined;

export function loadStrengthEstimator(): Promise<StrengthEstimator> {
  loading ??= build();
  // A failed import (broken install) is reported, not cached for ever.
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

async function build(): Promise<StrengthEstimator> {
  const [{ ZxcvbnFactory }, common, en] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
  ]);
  const zxcvbn = new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
    // Matching is superlinear in length (a 256-character passphrase took ~1 s of CPU here): the
    // first 64 characters are measured, and a password that strong is strong enough.
    maxLength: MEASURED_LENGTH,
  });
  return async (password, userInputs) => {
    const result = await zxcvbn.checkAsync(password, userInputs);
    if (result.score >= MIN_SCORE) return null;
    // "Repeated characters like "aaa" are easy to guess." → after "is too easy to guess: ".
    const reason = result.feedback.warning ?? result.feedback.suggestions[0] ?? '';
    return reason.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase());
  };
}
