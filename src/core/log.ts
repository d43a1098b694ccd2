import { createRequire } from 'node:module';
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

/** `json`: one JSON object a line, for log shippers; `pretty`: coloured lines for a person. */
export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT if set; otherwise pretty when stdout is a terminal (a person watching), JSON when not. */
export const resolveLogFormat = (configured: LogFormat | undefined, stdout: { isTTY?: boolean } = process.stdout): LogFormat =>
  configured ?? (stdout.isTTY ? 'pretty' : 'json');

export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const options: LoggerOptions = {
    level,
    // Redaction happens before a line is formatted, so pretty lines are as clean as JSON ones.
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'gatehouse' },
  };
  if (format === 'pretty') {
    // In-process and synchronous (no worker thread): a line is out before the process exits.
    // Required only here: a server logging JSON never loads the pretty printer.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const stream = pretty({ sync: true, colorize: true, ignore: 'service,hostname', translateTime: 'SYS:HH:MM:ss.l', destination: destination ?? 1 });
    return pino(options, stream);
  }
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
