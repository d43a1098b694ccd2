import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, formatIssues } from './format_issues.js';
import { parseTrustProxy } from './trust_proxy.js';
import { deviceFlowEnvShape, deviceFlowSettings } from './device_flow_settings.js';
import { inOurWords } from './issue_wording.js';

const trustProxy = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const parsed = parseTrustProxy(raw);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    return parsed;
  });

/** A 32-byte key written as 64 hex digits or base64 (url-safe or not); undefined otherwise. */
function decodeMfaKey(text: string): Buffer | undefined {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  return key?.length === 32 ? key : undefined;
}

const mfaKey = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    if (!raw?.trim()) return undefined;
    const key = decodeMfaKey(raw.trim());
    if (!key) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64 or hex (e.g. `openssl rand -base64 32`)' });
      return z.NEVER;
    }
    return key;
  });

const envSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    ISSUER: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    // A direct connection for the cache's LISTEN when DATABASE_URL goes through a transaction pooler.
    DATABASE_LISTEN_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    CACHE_MAX_MB: z.coerce.number().min(0).max(65536).default(16),
    DATA_DIR: z.string().min(1).default('./data'),
    CONFIG_FILE: z.string().min(1).default('./gatehouse.config.json'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // Unset: pretty at a terminal, JSON otherwise (core/log.ts).
    LOG_FORMAT: z
      .enum(['json', 'pretty'])
      .optional()
      .or(z.literal('').transform(() => undefined)),
    // Production (NODE_ENV=production) hides the details of errors meant for developers.
    NODE_ENV: z.string().optional(),
    // Where the serving process writes its pid (for `gatehouse config reload`); default DATA_DIR/gatehouse.pid.
    PID_FILE: z.string().min(1).optional(),
    TRUST_PROXY: trustProxy,
    // Optional bearer token for /metrics; long enough that guessing it is hopeless.
    METRICS_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters (e.g. openssl rand -base64 32)')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(300),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().positive().max(600).default(3),
    DB_QUERY_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(5),
    WEB_CONCURRENCY: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default(1),
    KEY_ROTATION_PROPAGATION_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .default(900),
    KEY_REFRESH_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    KEY_AUTO_ROTATE_DAYS: z.coerce.number().min(0).max(3650).default(0),
    SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(5),
    LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().min(1).max(100_000).default(50),
    LOGIN_FAILURE_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(900),
    LOGIN_LOCKOUT_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(900),
    CLIENT_AUTH_MAX_FAILURES: z.coerce.number().int().min(1).max(100_000).default(10),
    CLIENT_AUTH_FAILURE_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(300),
    SESSION_IDLE_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(400 * 86400)
      .default(14 * 86400),
    SESSION_MAX_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(400 * 86400)
      .default(30 * 86400),
    BACKCHANNEL_RETRY_SECONDS: z.coerce.number().min(0.1).max(3600).default(10),
    BACKCHANNEL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
    // Outgoing mail (src/mail/mailer.ts): smtp:// (STARTTLS when the server offers it) or smtps://
    // (TLS from the start). Unset: each message is logged at info level instead (development).
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\/[^/]/, 'must be an smtp:// or smtps:// URL')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    MAIL_FROM: z.string().min(3).default('Gatehouse <gatehouse@localhost>'),
    MAIL_RETRY_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
    MAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(15),
    // Forms that send mail (forgot password, registration, ...): per address and per IP, per window.
    MAIL_FORM_MAX_PER_ADDRESS: z.coerce.number().int().min(1).max(1000).default(5),
    MAIL_FORM_MAX_PER_IP: z.coerce.number().int().min(1).max(100_000).default(30),
    MAIL_FORM_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(3600),
    AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(90),
    REQUEST_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).max(10_000_000).default(600),
    REQUEST_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86400).default(60),
    ...deviceFlowEnvShape,
    // AES-256-GCM key sealing TOTP secrets (src/mfa/secret_box.ts): 32 bytes, base64 or hex.
    // Unset: a key kept in the database's server_secrets table. PREVIOUS: a comma-separated list
    // of older keys still accepted for opening (rotation; README "Second factors").
    MFA_ENCRYPTION_KEY: mfaKey,
    MFA_ENCRYPTION_KEY_PREVIOUS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        const keys: Buffer[] = [];
        for (const part of (raw ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)) {
          const key = decodeMfaKey(part);
          if (!key) {
            ctx.addIssue({ code: 'custom', message: 'each key must be 32 bytes, base64 or hex' });
            return z.NEVER;
          }
          keys.push(key);
        }
        return keys;
      }),
  })
  .transform((env) => {
    const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
    return {
      port: env.PORT,
      issuer,
      databaseUrl: env.DATABASE_URL,
      databaseListenUrl: env.DATABASE_LISTEN_URL,
      cacheMaxBytes: Math.floor(env.CACHE_MAX_MB * 1024 * 1024),
      dataDir: path.resolve(env.DATA_DIR),
      configFile: path.resolve(env.CONFIG_FILE),
      logLevel: env.LOG_LEVEL,
      logFormat: env.LOG_FORMAT,
      /** error pages show the request's details (client_id, redirect_uri…) for developers */
      developerErrors: env.NODE_ENV !== 'production',
      pidFile: path.resolve(env.PID_FILE ?? path.join(env.DATA_DIR, 'gatehouse.pid')),
      trustProxy: env.TRUST_PROXY.trust,
      /** said at start-up when TRUST_PROXY used an old boolean spelling */
      trustProxyDeprecation: env.TRUST_PROXY.deprecation,
      metricsToken: env.METRICS_TOKEN,
      sweepIntervalMs: env.SWEEP_INTERVAL_SECONDS * 1000,
      dbPoolSize: env.DB_POOL_SIZE,
      dbConnectTimeoutMs: env.DB_CONNECT_TIMEOUT_SECONDS * 1000,
      dbQueryTimeoutMs: env.DB_QUERY_TIMEOUT_SECONDS * 1000,
      webConcurrency: env.WEB_CONCURRENCY === 'auto' ? os.availableParallelism() : env.WEB_CONCURRENCY,
      keyPropagationSeconds: env.KEY_ROTATION_PROPAGATION_SECONDS,
      keyRefreshMs: env.KEY_REFRESH_SECONDS * 1000,
      keyAutoRotateMs: env.KEY_AUTO_ROTATE_DAYS * 86400 * 1000,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
      loginThrottle: {
        maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        maxFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
        windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
        lockoutSeconds: env.LOGIN_LOCKOUT_SECONDS,
      },
      clientAuthThrottle: {
        maxFailures: env.CLIENT_AUTH_MAX_FAILURES,
        windowSeconds: env.CLIENT_AUTH_FAILURE_WINDOW_SECONDS,
      },
      mailThrottle: { maxPerAddress: env.MAIL_FORM_MAX_PER_ADDRESS, maxPerIp: env.MAIL_FORM_MAX_PER_IP, windowSeconds: env.MAIL_FORM_WINDOW_SECONDS },
      mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM, retryBaseMs: env.MAIL_RETRY_SECONDS * 1000, maxAttempts: env.MAIL_MAX_ATTEMPTS },
      auditRetentionDays: env.AUDIT_RETENTION_DAYS,
      requestRateLimit: { points: env.REQUEST_RATE_LIMIT_PER_IP, windowSeconds: env.REQUEST_RATE_LIMIT_WINDOW_SECONDS },
      session: { idleSeconds: env.SESSION_IDLE_SECONDS, maxSeconds: env.SESSION_MAX_SECONDS },
      backchannel: { retryBaseMs: env.BACKCHANNEL_RETRY_SECONDS * 1000, maxAttempts: env.BACKCHANNEL_MAX_ATTEMPTS },
      secureCookies: issuer.startsWith('https://'),
      mfaKeys: { current: env.MFA_ENCRYPTION_KEY, previous: env.MFA_ENCRYPTION_KEY_PREVIOUS },
      deviceFlow: deviceFlowSettings(env),
    };
  });

export type Env = z.infer<typeof envSchema>;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source, { error: inOurWords });
  if (!result.success) throw new ConfigError('environment', formatIssues(result.error));
  return result.data;
}
