// How many guesses a password would take a guesser who knows how people choose them: zxcvbn
// (Dropbox's estimator, maintained as zxcvbn-ts), with its common and English dictionaries,
// keyboard graphs, and repeat/sequence/date/l33t patterns. It runs when a password is set
// (CLI, /account), never on sign-in; its dictionaries (a few MB) are imported on the first use,
// so a server that never sets a password never loads them.

/** zxcvbn's score 2: at least 10^6 guesses ("somewhat guessable" is score 1 and below). */
const MIN_SCORE = 2;

/** Why zxcvbn finds a password weak: its message's key (`warnings.straightRow`) and English text. */
export interface StrengthHint {
  key: string;
  text: string;
}

/** Null when the password is strong enough; otherwise zxcvbn's reason (undefined when it gives none). */
export type StrengthEstimator = (password: string, userInputs: string[]) => Promise<StrengthHint | undefined | null>;

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
  // zxcvbn gives its feedback as text; its key (the catalogue's `password_policy.hints.<key>`,
  // so a page can say it in its own language) is found by that text.
  const keys = new Map<string, string>([
    ...Object.entries(en.translations.warnings).map(([key, text]): [string, string] => [text, `warnings.${key}`]),
    ...Object.entries(en.translations.suggestions).map(([key, text]): [string, string] => [text, `suggestions.${key}`]),
  ]);
  return async (password, userInputs) => {
    const result = await zxcvbn.checkAsync(password, userInputs);
    if (result.score >= MIN_SCORE) return null;
    const text = result.feedback.warning ?? result.feedback.suggestions[0];
    const key = text === undefined ? undefined : keys.get(text);
    return text === undefined || key === undefined ? undefined : { key, text };
  };
}
