// Gatehouse's own errors: one base class carrying the HTTP status a request failing with it gets
// and a stable machine code, as jose's errors carry `ERR_JWT_EXPIRED` and oidc-provider's carry
// their OAuth `error` and status. Callers branch on the class or the code, never on a message or
// on whichever properties an error happens to have. oidc-provider's own errors
// (errors.OIDCProviderError) stay as the library defines them.

/** Every code a GatehouseError can carry, and what it means. A code, once published, never changes meaning. */
export const ERROR_CODES = {
  ERR_DATABASE_UNAVAILABLE: 'the database cannot be reached right now (down, restarting, overloaded): 503, retry later',
  ERR_REQUEST_REFUSED: 'a check in front of the provider refused the request (its size, its rate): the status says which',
  ERR_REQUEST_TOO_LARGE: 'the request body is larger than the provider accepts: 413',
  ERR_FORM_EXPIRED: 'a hosted form was posted without a valid CSRF token: 403, nothing was done',
  ERR_NOT_SIGNED_IN: 'an account form was posted by a browser that is no longer signed in: 401',
  ERR_WRONG_PROMPT: 'an interaction step was posted that does not match the prompt the sign-in is at: 400',
  ERR_CONFIG_INVALID: 'the environment or the config file is invalid; the problems are listed',
  ERR_DB_OPEN: 'the database could not be opened (the embedded one in use, or its folder not private)',
  ERR_DATA_DIR_NOT_PRIVATE: 'DATA_DIR cannot be made owner-only',
  ERR_USER_EXISTS: 'a user with that username or email already exists',
  ERR_REPLAY_DETECTED: 'a client assertion or DPoP proof was already used by another request',
  ERR_UPSTREAM: 'a sign-in through an upstream identity provider failed (refused, forged, invalid or unreachable): 4xx or 502',
  ERR_IDENTITY_LINKED: 'the upstream identity is already linked to another Gatehouse account: 409',
  ERR_CLI_REFUSED: 'a gatehouse command refused; its message is meant for the operator',
} as const;

export type GatehouseErrorCode = keyof typeof ERROR_CODES;

export interface GatehouseErrorDetails {
  /** The HTTP status a request failing with this error is answered with; 500 when it is no request's fault. */
  status?: number;
  /** The OAuth-style error code a person or client is shown (the error page's key); default `server_error`. */
  error?: string;
  /** Text safe to show a person or client beside `error` (the message may not be). */
  description?: string;
  /** When a retry may succeed, for a Retry-After header. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class GatehouseError extends Error {
  readonly code: GatehouseErrorCode;
  readonly status: number;
  readonly error: string;
  readonly description: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: GatehouseErrorCode, message: string, details: GatehouseErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = details.status ?? 500;
    this.error = details.error ?? 'server_error';
    this.description = details.description;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}
