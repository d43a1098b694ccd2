import Provider, { errors } from 'oidc-provider';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import type { AuditLog } from '../audit/audit_log.js';
import { currentRequest } from '../core/request_context.js';
import { setRetryAfter } from '../http/retry_after.js';
import { createLimiter } from './login_throttle.js';
import { ipKey } from './throttle_keys.js';

// Guessing user codes at /device (RFC 8628 5.1). Whoever guesses a pending code and approves it
// with their own account gets the device signed in as them; whoever guesses one and the victim's
// browser is signed in... cannot, the approval needs a sign-in in the guesser's browser. Either
// way guesses must be scarce: wrong codes are counted per source address (IPv6 by /64) in the
// shared limits table, and the Nth in the window locks the address for a window, during which
// every code it types is refused with 429 before it is looked up, the right one included.
//
// The count is taken where the library looks a typed code up (DeviceCode.findByUserCode, wrapped
// here, as client_auth_lockout.ts wraps the client look-up): a code that matches nothing is a
// miss; an expired or used one is a real code and no guess.

export interface UserCodeThrottleSettings {
  userCodeMaxFailuresPerIp: number;
  userCodeWindowSeconds: number;
}

export interface UserCodeThrottle {
  /** Seconds until `ip` may type codes again; 0 when it is not locked. */
  lockedFor(ip: string | undefined): Promise<number>;
  /** Counts a code from `ip` that matched nothing; returns the lockout it started, in seconds, or 0. */
  missed(ip: string | undefined): Promise<number>;
}

export function createUserCodeThrottle(db: Pick<Db, 'query'>, settings: UserCodeThrottleSettings): UserCodeThrottle {
  const max = settings.userCodeMaxFailuresPerIp;
  const limiter = createLimiter(db, 'user_code_ip', max, settings.userCodeWindowSeconds);
  return {
    async lockedFor(ip) {
      const state = await limiter.get(ipKey(ip));
      return state && state.consumedPoints >= max ? Math.max(1, Math.ceil(state.msBeforeNext / 1000)) : 0;
    },
    async missed(ip) {
      const key = ipKey(ip);
      const state = await limiter.penalty(key);
      // Exactly one miss sees the limit: the lockout runs one whole window from it.
      if (state.consumedPoints !== max) return 0;
      await limiter.block(key, settings.userCodeWindowSeconds);
      return settings.userCodeWindowSeconds;
    },
  };
}

/** /device refused a code because its address typed too many wrong ones (rendered by device_flow.ts as a 429 page). */
export class UserCodeLocked extends errors.OIDCProviderError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'too_many_requests');
    this.error_description = 'too many wrong user codes from this address; retry later';
  }
}

export interface UserCodeLockoutDeps {
  throttle: UserCodeThrottle;
  log: Logger;
  audit: Pick<AuditLog, 'record'>;
}

export function limitUserCodeGuesses(provider: Provider, { throttle, log, audit }: UserCodeLockoutDeps): void {
  const DeviceCode = provider.DeviceCode;
  const find = DeviceCode.findByUserCode.bind(DeviceCode);
  DeviceCode.findByUserCode = async (userCode, options) => {
    const ctx = Provider.ctx;
    if (!ctx || ctx.oidc.route !== 'code_verification') return find(userCode, options);
    // The address Express resolved under TRUST_PROXY, as every throttle uses.
    const ip = currentRequest()?.ip ?? ctx.ip;
    const retryAfter = await throttle.lockedFor(ip);
    if (retryAfter > 0) {
      log.info({ event: 'device.user_code_throttled', ip, retry_after: retryAfter }, 'user code refused: too many wrong codes from this address');
      setRetryAfter(ctx, retryAfter);
      throw new UserCodeLocked(retryAfter);
    }
    const code = await find(userCode, options);
    if (!code) {
      const lockoutSeconds = await throttle.missed(ip);
      if (lockoutSeconds) {
        await audit.record({
          event: 'device.user_code_locked',
          ip,
          userAgent: ctx.get('user-agent') || undefined,
          details: { lockout_seconds: lockoutSeconds },
        });
      }
    }
    return code;
  };
}
