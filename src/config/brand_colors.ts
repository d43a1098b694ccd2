// The hosted pages' colours and the contrast rules a branded primary colour must meet
// (WCAG 2.2 AA: 4.5:1 for text, 3:1 for focus outlines and input borders). The formula is
// WCAG's relative luminance; the pages' own backgrounds are fixed (gatehouse.css), so a colour
// is checked once, when the config is loaded, not in the browser.

/** The page backgrounds of light and dark mode (views/static/gatehouse.css `--bg`). */
export const LIGHT_BACKGROUND = '#ffffff';
export const DARK_BACKGROUND = '#121212';
/** Text on buttons and links: WCAG AA for normal-size text. */
export const MIN_TEXT_CONTRAST = 4.5;

export const hexColor = /^#[0-9a-fA-F]{6}$/;

type Rgb = [number, number, number];

function parse(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function format(rgb: Rgb): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

function luminance(hex: string): number {
  const [r, g, b] = parse(hex).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two `#rrggbb` colours, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** A ratio as people read it: 4.48:1 (floored, so a colour just short is never shown as passing). */
export const formatRatio = (ratio: number) => `${(Math.floor(ratio * 100) / 100).toFixed(2)}:1`;

/**
 * The colour links and accents use on the dark background: the primary colour itself when it
 * reads there, else the primary mixed with white in the smallest step that does, so the hue
 * (the brand) stays recognisable.
 */
export function darkModeVariant(primary: string): string {
  if (contrastRatio(primary, DARK_BACKGROUND) >= MIN_TEXT_CONTRAST) return primary.toLowerCase();
  const rgb = parse(primary);
  for (let step = 1; step <= 20; step++) {
    const mix = step / 20;
    const candidate = format(rgb.map((c) => c + (255 - c) * mix) as Rgb);
    if (contrastRatio(candidate, DARK_BACKGROUND) >= MIN_TEXT_CONTRAST) return candidate;
  }
  return '#ffffff';
}

/**
 * A darker shade of the primary that passes against white, suggested to an operator whose
 * colour does not: mixed with black in the smallest step that reaches 4.5:1.
 */
export function darkerPassingShade(primary: string): string {
  const rgb = parse(primary);
  for (let step = 1; step <= 20; step++) {
    const candidate = format(rgb.map((c) => c * (1 - step / 20)) as Rgb);
    if (contrastRatio(candidate, LIGHT_BACKGROUND) >= MIN_TEXT_CONTRAST) return candidate;
  }
  return '#000000';
}
