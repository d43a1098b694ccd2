import { pino, type Logger, type LoggerOptions } from 'pino';

// Every path that can carry a credential. pino-http serialises req/res, the provider's
// events carry ctx-derived objects; both are covered here so no call site has to remember.
const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'client_secret',
  '*.client_secret',
  'token',
  '*.token',
  'code',
  '*.code',
  'codes',
  '*.codes',
  'recovery_codes',
  '*.recovery_codes',
  'totp_secret',
  '*.totp_secret',
  'csrf_token',
  '*.csrf_token',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'id_token',
  '*.id_token',
  'id_token_hint',
  '*.id_token_hint',
  'logout_token',
  '*.logout_token',
  // mail: addresses and the single-use links they carry (src/mail/mailer.ts)
  'email',
  '*.email',
  'to',
  '*.to',
  'link',
  '*.link',
  'links',
  '*.links',
];

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'gatehouse' },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
