import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { GatehouseError } from '../core/errors.js';

// CSRF tokens for the forms Gatehouse hosts (login, consent, deny/cancel, account pages).
//
// A token is `<issued-at>.<HMAC>` over what the form is for (`purpose`), what it is bound to
// (`binding`: the interaction uid, or the session's uid on account pages) and when it was
// issued. The binding is what ties it to one browser: an interaction uid or session uid is only
// usable with the signed cookie that names it, so a token fetched by an attacker for their own
// interaction is useless in a victim's browser. Nothing is stored, and the HMAC key is derived
// from the database-stored cookie keys, so every instance issues and accepts the same tokens;
// after `keys rotate`, tokens signed with a key that is still live keep verifying.
//
// The form field is `csrf_token`: views include `partials/csrf_field` (which writes it) and
// handlers put `requireCsrfToken` in front of anything that acts on a POST.

const CSRF_FIELD = 'csrf_token';

/** How long a rendered form stays valid: as long as an interaction lives. */
export const CSRF_MAX_AGE_SECONDS = 3600;
/** Instances' clocks may disagree by this much about when a token was issued. */
const CLOCK_SKEW_SECONDS = 60;
// Domain separation: the cookie keys also sign cookies (keygrip); this key signs nothing else.
const KEY_LABEL = 'gatehouse csrf token v1';

export interface Csrf {
  /** A token for a form that does `purpose` for `binding`. */
  issue(purpose: string, binding: string): string;
  /** Whether `token` (as submitted, any type) was issued by `issue(purpose, binding)` and is still fresh. */
  verify(purpose: string, binding: string, token: unknown): boolean;
}

export interface CsrfDeps {
  /** the live cookie keys, the signing one first (key_store.ts, through the provider host) */
  cookieKeys: () => readonly string[];
  maxAgeSeconds?: number;
  now?: () => number;
}

export function createCsrf({ cookieKeys, maxAgeSeconds = CSRF_MAX_AGE_SECONDS, now = () => Date.now() }: CsrfDeps): Csrf {
  const derived = new Map<string, Buffer>();
  const keyFor = (cookieKey: string) => {
    let key = derived.get(cookieKey);
    if (!key) {
      key = createHmac('sha256', cookieKey).update(KEY_LABEL).digest();
      derived.set(cookieKey, key);
    }
    return key;
  };
  const mac = (key: Buffer, purpose: string, binding: string, issuedAt: string) =>
    createHmac('sha256', key).update(`${purpose}\n${binding}\n${issuedAt}`).digest();

  return {
    issue(purpose, binding) {
      const signing = cookieKeys()[0];
      if (!signing) throw new Error('no cookie key to sign CSRF tokens with');
      const issuedAt = Math.floor(now() / 1000).toString(36);
      return `${issuedAt}.${mac(keyFor(signing), purpose, binding, issuedAt).toString('base64url')}`;
    },

    verify(purpose, binding, token) {
      if (typeof token !== 'string' || token.length > 128) return false;
      const match = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/.exec(token);
      if (!match) return false;
      const [, issuedAt, given] = match as unknown as [string, string, string];
      const age = Math.floor(now() / 1000) - parseInt(issuedAt, 36);
      if (age > maxAgeSeconds || age < -CLOCK_SKEW_SECONDS) return false;
      const presented = Buffer.from(given, 'base64url');
      if (presented.length !== 32) return false;
      // Every live key is tried: a form rendered just before a rotation is still good after it.
      return cookieKeys().some((cookieKey) => timingSafeEqual(presented, mac(keyFor(cookieKey), purpose, binding, issuedAt)));
    },
  };
}

/** A POST without a valid token: shown as a 403 page, and nothing was done. */
export class FormExpired extends GatehouseError {
  constructor() {
    super('ERR_FORM_EXPIRED', 'the form was submitted without a valid CSRF token', { status: 403, error: 'form_expired' });
  }
}

export interface RequireCsrfOptions {
  purpose: string;
  /** what the token must be bound to for this request; undefined refuses it */
  bindingOf: (req: Request, res: Response) => string | undefined | Promise<string | undefined>;
  /**
   * Runs before a refusal; throw from it to report a more useful error instead (say, that the
   * whole sign-in has expired, when it has).
   */
  beforeRefusing?: (req: Request, res: Response) => Promise<unknown>;
}

/**
 * Lets a form POST through only with a valid `csrf_token` field; otherwise the error handler
 * renders "This form has expired" with status 403. Needs the urlencoded body parsed first.
 */
export function requireCsrfToken(csrf: Csrf, { purpose, bindingOf, beforeRefusing }: RequireCsrfOptions): RequestHandler {
  return (req, res, next) => {
    void (async () => {
      const binding = await bindingOf(req, res);
      const token = (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
      if (binding !== undefined && csrf.verify(purpose, binding, token)) {
        next();
        return;
      }
      if (beforeRefusing) await beforeRefusing(req, res);
      next(new FormExpired());
    })().catch(next);
  };
}
