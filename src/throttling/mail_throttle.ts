import type { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { createLimiter } from './login_throttle.js';
import { ipKey, type ThrottleKeys, type ThrottleSubject } from './throttle_keys.js';

// Limits on the forms that send mail (forgot password, registration, e-mail change, resend
// verification): per address and per client IP, counted in the shared login_limits table
// (rate-limiter-flexible's Postgres store), so every instance sees the same counts. The address
// is keyed like a login (throttle_keys.ts): by the user's sub when it names one, else by the
// typed address in its lookup form, under an HMAC; an unknown address is counted exactly like a
// known one, so the limits reveal nothing about which addresses exist.

export interface MailThrottleSettings {
  /** mails one address may be sent from a form within the window */
  maxPerAddress: number;
  /** form submissions one client IP may make within the window */
  maxPerIp: number;
  windowSeconds: number;
}

export type MailThrottleVerdict = { allowed: true } | { allowed: false; scope: 'address' | 'ip'; retryAfterSeconds: number };

export interface MailThrottle {
  /**
   * Counts one submission of `form` (e.g. 'password_reset') for the address and the IP. Check the
   * IP first (`address` undefined) before any lookup if you like; then the address.
   */
  consume(form: string, subject: ThrottleSubject | undefined, ip: string | undefined): Promise<MailThrottleVerdict>;
}

const retryAfter = (res: Pick<RateLimiterRes, 'msBeforeNext'>) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export function createMailThrottle(db: Db, keys: ThrottleKeys, settings: MailThrottleSettings): MailThrottle {
  const perAddress = createLimiter(db, 'mail_address', settings.maxPerAddress, settings.windowSeconds);
  const perIp = createLimiter(db, 'mail_ip', settings.maxPerIp, settings.windowSeconds);
  async function take(limiter: typeof perIp, key: string): Promise<RateLimiterRes | undefined> {
    try {
      await limiter.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      return rejection as RateLimiterRes;
    }
  }
  return {
    async consume(form, subject, ip) {
      const ipRefusal = await take(perIp, `${form}:${ipKey(ip)}`);
      if (ipRefusal) return { allowed: false, scope: 'ip', retryAfterSeconds: retryAfter(ipRefusal) };
      if (subject) {
        const addressRefusal = await take(perAddress, `${form}:${keys.account(subject)}`);
        if (addressRefusal) return { allowed: false, scope: 'address', retryAfterSeconds: retryAfter(addressRefusal) };
      }
      return { allowed: true };
    },
  };
}
