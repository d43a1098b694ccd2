import { z } from 'zod';

// The device authorization grant's environment (README "Devices"): how long a device code lives,
// how often a device may poll the token endpoint, and how many wrong user codes one address may
// type into /device before it is locked out.

export const deviceFlowEnvShape = {
  DEVICE_CODE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  DEVICE_POLL_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
  DEVICE_USER_CODE_MAX_FAILURES_PER_IP: z.coerce.number().int().min(1).max(1000).default(10),
  DEVICE_USER_CODE_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86400)
    .default(900),
};

type DeviceFlowEnv = { [K in keyof typeof deviceFlowEnvShape]: z.infer<(typeof deviceFlowEnvShape)[K]> };

export interface DeviceFlowSettings {
  codeTtlSeconds: number;
  pollIntervalSeconds: number;
  userCodeMaxFailuresPerIp: number;
  userCodeWindowSeconds: number;
}

export function deviceFlowSettings(env: DeviceFlowEnv): DeviceFlowSettings {
  return {
    codeTtlSeconds: env.DEVICE_CODE_TTL_SECONDS,
    pollIntervalSeconds: env.DEVICE_POLL_INTERVAL_SECONDS,
    userCodeMaxFailuresPerIp: env.DEVICE_USER_CODE_MAX_FAILURES_PER_IP,
    userCodeWindowSeconds: env.DEVICE_USER_CODE_WINDOW_SECONDS,
  };
}
