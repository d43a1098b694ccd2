import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/audit_log.js';

// How each device sign-in at /device ended, in the audit trail: approved (the device code now
// names the account) or denied (Deny on the confirmation or consent page, a cancelled sign-in,
// or any error the library wrote into the code, which the device then receives when it polls).
// The library emits no event for these, so the response of /device and of its resume route is
// looked at once it is done.

const DEVICE_ROUTES = new Set(['code_verification', 'device_resume']);

export function auditDeviceOutcomes(provider: Provider, audit: Pick<AuditLog, 'record'>): void {
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    const code = oidc && DEVICE_ROUTES.has(oidc.route) ? oidc.entities.DeviceCode : undefined;
    if (!code) return;
    if (code.accountId && !code.error) {
      await audit.record({
        event: 'device.approved',
        accountId: code.accountId,
        clientId: code.clientId,
        ...requestOrigin(ctx),
        details: { scope: code.scope, grant_id: code.grantId },
      });
    } else if (code.error) {
      await audit.record({
        event: 'device.denied',
        accountId: oidc?.session?.accountId,
        clientId: code.clientId,
        ...requestOrigin(ctx),
        details: { reason: code.error },
      });
    }
  });
}
