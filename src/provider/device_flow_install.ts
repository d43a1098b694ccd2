import type Provider from 'oidc-provider';
import type { Db } from '../db/db.js';
import type { Logger } from '../core/log.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { DeviceFlowSettings } from '../config/device_flow_settings.js';
import { createUserCodeThrottle, limitUserCodeGuesses, type UserCodeThrottle } from '../throttling/user_code_lockout.js';
import { enforceDevicePolling } from '../throttling/device_polling.js';
import { prefillUserCodeFromLink } from './device_flow.js';
import { auditDeviceOutcomes } from './device_flow_audit.js';

// Everything the device authorization grant adds around oidc-provider's routes (its pages are
// configured in device_flow.ts), installed on every provider the host builds.

export interface DeviceFlowDeps {
  db: Pick<Db, 'query'>;
  settings: DeviceFlowSettings;
  /** shared by every provider the host builds: the counts live in the database anyway */
  userCodeThrottle: UserCodeThrottle;
}

export function createDeviceFlowDeps(db: Pick<Db, 'query'>, settings: DeviceFlowSettings): DeviceFlowDeps {
  return { db, settings, userCodeThrottle: createUserCodeThrottle(db, settings) };
}

export function installDeviceFlow(provider: Provider, deps: DeviceFlowDeps, { log, audit }: { log: Logger; audit: AuditLog }): void {
  prefillUserCodeFromLink(provider);
  limitUserCodeGuesses(provider, { throttle: deps.userCodeThrottle, log, audit });
  enforceDevicePolling(provider, deps.db, deps.settings);
  auditDeviceOutcomes(provider, audit);
}
