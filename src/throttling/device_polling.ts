import { createHash } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import type { Db } from '../db/db.js';
import { createLimiter } from './login_throttle.js';

// The device's polling of the token endpoint (RFC 8628 3.4, 3.5): the device authorization
// response says how often (`interval`, which oidc-provider leaves out), and a device that asks
// again for a pending code sooner is answered `slow_down` (the library never does). One poll
// per code per interval is counted in the shared limits table, so every instance agrees.
// Approved, denied and expired codes are answered at once: only waiting is rate limited.

export interface DevicePollingSettings {
  pollIntervalSeconds: number;
}

// A device code is a bearer secret: the limits table keeps a hash of it (a random 256-bit value,
// so a plain SHA-256 hides it), never the code itself.
const pollKey = (deviceCode: string) => createHash('sha256').update(deviceCode).digest('base64url');

export function enforceDevicePolling(provider: Provider, db: Pick<Db, 'query'>, settings: DevicePollingSettings): void {
  const interval = settings.pollIntervalSeconds;
  const polls = createLimiter(db, 'device_poll', 1, interval);

  provider.use(async (ctx, next) => {
    await next();
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...(ctx.body as Record<string, unknown>), interval };
    }
  });

  type DeviceCodeModel = InstanceType<Provider['DeviceCode']>;
  const DeviceCode = provider.DeviceCode as unknown as { find(id: string, options?: object): Promise<DeviceCodeModel | undefined> };
  const find = DeviceCode.find.bind(DeviceCode);
  DeviceCode.find = async (id, options) => {
    const code = await find(id, options);
    const ctx = Provider.ctx;
    if (!code || !ctx || ctx.oidc.route !== 'token' || typeof id !== 'string') return code;
    const pending = !code.isExpired && !code.accountId && !code.error && !code.consumed && code.clientId === ctx.oidc.client?.clientId;
    if (!pending) return code;
    const answer = await polls.consume(pollKey(id)).catch((refused: unknown) => refused);
    if (answer instanceof Error) throw answer;
    if ((answer as { consumedPoints: number }).consumedPoints > 1) throw new errors.SlowDown();
    return code;
  };
}
