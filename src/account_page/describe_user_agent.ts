import { t } from '../i18n/page_language.js';

// "Firefox on Windows" instead of a 120-character User-Agent header, so a person can tell their
// sessions apart. Only the common browsers and systems are named; anything else is shown as
// sent (shortened), which is still better than guessing.

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\b(?:Headless)?Chrom(?:e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\bAndroid\b/, 'Android'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

const MAX_SHOWN = 80;

export function describeUserAgent(userAgent: string | undefined): string {
  if (!userAgent) return t('account.sessions.unknown_browser');
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  if (browser && system) return t('account.sessions.browser_on_system', { browser, system });
  if (browser) return browser;
  return userAgent.length > MAX_SHOWN ? `${userAgent.slice(0, MAX_SHOWN - 1)}…` : userAgent;
}
