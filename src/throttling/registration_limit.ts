import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/db.js';
import { createLimiter } from './login_throttle.js';
import { ipKey } from './throttle_keys.js';

// Self-service registration and its "send the link again" button, counted per client IP (IPv6
// by /64) in the shared limits table: every instance enforces one budget. Each submission
// counts, valid or not, so a script cannot probe usernames or mail addresses faster than the
// budget. Undefined when admitted, else the seconds until the window ends.

export interface RegistrationLimitSettings {
  points: number;
  windowSeconds: number;
}

export const DEFAULT_REGISTRATION_LIMIT: RegistrationLimitSettings = { points: 10, windowSeconds: 3600 };

export function createRegistrationLimit(db: Db, settings: RegistrationLimitSettings = DEFAULT_REGISTRATION_LIMIT) {
  const limiter = createLimiter(db, 'register_ip', settings.points, settings.windowSeconds);
  return async (ip: string | undefined): Promise<number | undefined> => {
    try {
      await limiter.consume(ipKey(ip));
      return undefined;
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      return Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
    }
  };
}
