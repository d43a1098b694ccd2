import { GatehouseError } from './errors.js';

// Which failures mean "the database cannot be reached right now" (retry later, answer 503)
// rather than "this request or our code is wrong" (500). Callers branch on this, never on
// messages of their own.

/** SQLSTATEs of a database that is down, restarting, overloaded or cut off. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is shutting down, or pg_terminate_backend
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, or in recovery
  '57014', // query_canceled: a statement_timeout, or a cancel from an administrator
  '53300', // too_many_connections
]);

/** Socket errors on the way to the database. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN']);

// pg and pg-pool report a lost or unobtainable connection with these messages and no code.
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/, // "… unexpectedly", "… due to connection timeout", a client ended mid-query
  /^timeout exceeded when trying to connect$/, // pg-pool: no connection within connectionTimeoutMillis
  /^Query read timeout$/, // pg: query_timeout
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
];

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function unavailableHere(error: ErrorLike): boolean {
  const code = typeof error.code === 'string' ? error.code : undefined;
  if (code) {
    if (code.startsWith('08') && code.length === 5) return true; // connection_exception class
    if (UNAVAILABLE_SQLSTATES.has(code) || NETWORK_CODES.has(code)) return true;
    // A Unix socket that is gone (the embedded database's), but not any missing file.
    if (code === 'ENOENT' && error.syscall === 'connect') return true;
  }
  const message = typeof error.message === 'string' ? error.message : '';
  return PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(message));
}

/** True when `error` (or what caused it) says the database is unreachable or unavailable. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof DatabaseUnavailable) return true;
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const e = error as ErrorLike;
  if (unavailableHere(e)) return true;
  // Wrapped ("Connection terminated due to connection timeout" has the socket error as its
  // cause) or aggregated (a host name with several addresses, each refused).
  if (isDatabaseUnavailable(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1));
}

/** A short, secret-free reason for logs: the SQLSTATE or socket code, else pg's message. */
export function unavailableReason(error: unknown): string {
  if (error instanceof DatabaseUnavailable) return unavailableReason(error.cause);
  const e = (error ?? {}) as ErrorLike;
  if (typeof e.code === 'string') return e.code;
  if (e.cause) return unavailableReason(e.cause);
  return typeof e.message === 'string' ? e.message.slice(0, 120) : 'unknown';
}

/** What 503 answers tell clients: try again after this many seconds. */
export const RETRY_AFTER_SECONDS = 5;

/** A database failure (the `cause`, from pg or PGlite) classified as an outage: 503, try again shortly. */
export class DatabaseUnavailable extends GatehouseError {
  constructor(cause: unknown) {
    super('ERR_DATABASE_UNAVAILABLE', 'the database is unavailable', {
      status: 503,
      error: 'temporarily_unavailable',
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      cause,
    });
  }
}
