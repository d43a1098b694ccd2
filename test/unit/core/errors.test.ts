import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GatehouseError, type GatehouseErrorCode } from '../../../src/core/errors.js';
import { DatabaseUnavailable, isDatabaseUnavailable, RETRY_AFTER_SECONDS, unavailableReason } from '../../../src/core/database_unavailable.js';
import { RequestRefused } from '../../../src/http/refuse_request.js';
import { RequestTooLarge } from '../../../src/http/provider_body_limit.js';
import { FormExpired } from '../../../src/http/csrf.js';
import { WrongPrompt } from '../../../src/interactions/interaction_errors.js';
import { ConfigError } from '../../../src/config/format_issues.js';
import { DbOpenError } from '../../../src/db/open_db.js';
import { DataDirNotPrivate } from '../../../src/db/private_data_dir.js';
import { UserError } from '../../../src/accounts/users_repo.js';
import { ReplayDetected } from '../../../src/storage/replay_detection.js';
import { CliError } from '../../../src/cli/cli_errors.js';

const refused = { status: 429, error: 'temporarily_unavailable', description: 'too many requests', retryAfterSeconds: 30 };

// Each kind: the instance, the code callers branch on, the HTTP status and the OAuth-style code a
// request failing with it is answered with.
const KINDS: [GatehouseError, GatehouseErrorCode, number, string][] = [
  [new DatabaseUnavailable(new Error('Connection terminated unexpectedly')), 'ERR_DATABASE_UNAVAILABLE', 503, 'temporarily_unavailable'],
  [new RequestRefused(refused), 'ERR_REQUEST_REFUSED', 429, 'temporarily_unavailable'],
  [new RequestTooLarge(), 'ERR_REQUEST_TOO_LARGE', 413, 'request_too_large'],
  [new FormExpired(), 'ERR_FORM_EXPIRED', 403, 'form_expired'],
  [new WrongPrompt(), 'ERR_WRONG_PROMPT', 400, 'invalid_request'],
  [new ConfigError('environment', ['PORT: too big']), 'ERR_CONFIG_INVALID', 500, 'server_error'],
  [new DbOpenError('in use'), 'ERR_DB_OPEN', 500, 'server_error'],
  [new DataDirNotPrivate('not ours'), 'ERR_DATA_DIR_NOT_PRIVATE', 500, 'server_error'],
  [new UserError('a user with that email already exists'), 'ERR_USER_EXISTS', 500, 'server_error'],
  [new ReplayDetected(), 'ERR_REPLAY_DETECTED', 500, 'server_error'],
  [new CliError('no user named "bob"'), 'ERR_CLI_REFUSED', 500, 'server_error'],
];

describe('GatehouseError kinds', () => {
  it.each(KINDS)('%o carries %s, status %i, shown as %s', (error, code, status, shown) => {
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.error).toBe(shown);
    expect(error.name).toBe(error.constructor.name);
  });

  it('every code is documented, and no two kinds share one', () => {
    const codes = KINDS.map(([, code]) => code);
    for (const code of codes) expect(Object.keys(ERROR_CODES)).toContain(code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('a refusal says when to retry and what a person may read; a server-side failure neither', () => {
    const error = new RequestRefused(refused);
    expect(error.retryAfterSeconds).toBe(30);
    expect(error.description).toBe('too many requests');
    const config = new ConfigError('environment', ['PORT: too big']);
    expect(config.retryAfterSeconds).toBeUndefined();
    expect(config.description).toBeUndefined();
    expect(config.problems).toEqual(['PORT: too big']);
  });
});

describe('DatabaseUnavailable', () => {
  const refusedSocket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

  it('keeps the failure it classifies, and says when to retry', () => {
    const error = new DatabaseUnavailable(refusedSocket);
    expect(error.cause).toBe(refusedSocket);
    expect(error.retryAfterSeconds).toBe(RETRY_AFTER_SECONDS);
  });

  it('counts as unavailable, with the reason of what caused it (not its own code)', () => {
    const error = new DatabaseUnavailable(refusedSocket);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(unavailableReason(error)).toBe('ECONNREFUSED');
  });

  it('no other kind counts as unavailable', () => {
    for (const [error] of KINDS.slice(1)) expect(isDatabaseUnavailable(error), error.name).toBe(false);
  });
});
