import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import { translatorFor, type MessageParams, type Translator } from './catalogues.js';
import { DEFAULT_LOCALE, isLocale, negotiateLocale, type Locale } from './locales.js';

// The language of the page being answered. A request starts with its Accept-Language; once a
// handler learns the authorization request's `ui_locales` (an interaction's params, the
// provider's own pages) it says so with useUiLocales, and everything rendered or translated
// afterwards for that request follows it. Held per request (like core/request_context.ts)
// because oidc-provider's hooks give no other way to pass it, and so that TypeScript code can
// translate its messages with t() without threading a translator through every call.

interface PageLanguage {
  readonly acceptLanguage: string | undefined;
  uiLocales: unknown;
  readonly res: Response | undefined;
  /** the language chosen from the two above, worked out on first use (a page asks for it per text) */
  chosen?: Locale | undefined;
}

const storage = new AsyncLocalStorage<PageLanguage>();

/** Express middleware: the rest of the request (the provider's pages too) knows its language. */
export function trackPageLanguage(req: Request, res: Response, next: NextFunction): void {
  storage.run({ acceptLanguage: req.get('accept-language'), uiLocales: undefined, res }, next);
}

/** Runs `fn` with the page language of `req` unless one is already known (error pages reached early). */
export function withPageLanguage<T>(req: Request, res: Response, fn: () => T): T {
  if (storage.getStore()) return fn();
  return storage.run({ acceptLanguage: req.get('accept-language'), uiLocales: undefined, res }, fn);
}

/** The authorization (or end-session) request's `ui_locales`: it outranks Accept-Language from now on. */
export function useUiLocales(uiLocales: unknown): void {
  const store = storage.getStore();
  if (store && typeof uiLocales === 'string') {
    store.uiLocales = uiLocales;
    store.chosen = undefined;
  }
}

/** The current page's language: English outside a request. */
export function pageLocale(): Locale {
  const store = storage.getStore();
  if (!store) return DEFAULT_LOCALE;
  store.chosen ??= negotiateLocale(store.uiLocales, store.acceptLanguage);
  return store.chosen;
}

export function pageTranslator(): Translator {
  return translatorFor(pageLocale());
}

/** The current page's text for `key` (plain text: ejs escapes it). For messages built in TypeScript. */
export function t(key: string, params?: MessageParams): string {
  return pageTranslator().t(key, params);
}

/**
 * Marks the response as being in `locale`: `Content-Language`, and `Vary: Accept-Language`
 * since the same URL answers in another language to another browser.
 */
export function markPageLanguage(locale: Locale): void {
  const res = storage.getStore()?.res;
  if (!res || res.headersSent) return;
  res.setHeader('Content-Language', locale);
  res.vary('Accept-Language');
}

/**
 * The language to write to a person in (a mail): the one they are known to read (their stored
 * `locale`) while Gatehouse still supports it, else the language of the page that caused the mail
 * (English outside a request).
 */
export function recipientLocale(stored: string | null | undefined): Locale {
  return isLocale(stored) ? stored : pageLocale();
}
