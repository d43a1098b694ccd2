import { GatehouseError } from '../core/errors.js';

// What can go wrong with a sign-in through an upstream, as the person sees it (the error page's
// code and text, hosted_provider_pages.ts) and as the audit trail records it (`reason`).

export type UpstreamFailureReason =
  | 'unknown_upstream'
  | 'not_allowed'
  | 'bad_state'
  | 'access_denied'
  | 'upstream_error'
  | 'invalid_response'
  | 'unavailable'
  | 'no_subject'
  | 'disabled'
  | 'email_taken';

const ANSWERS: Record<UpstreamFailureReason, { status: number; error: string }> = {
  unknown_upstream: { status: 404, error: 'invalid_request' },
  not_allowed: { status: 403, error: 'unauthorized_client' },
  bad_state: { status: 400, error: 'upstream_state' },
  access_denied: { status: 403, error: 'access_denied' },
  upstream_error: { status: 502, error: 'upstream_error' },
  invalid_response: { status: 502, error: 'upstream_error' },
  unavailable: { status: 502, error: 'upstream_unavailable' },
  no_subject: { status: 502, error: 'upstream_error' },
  disabled: { status: 403, error: 'access_denied' },
  email_taken: { status: 409, error: 'upstream_email_taken' },
};

export class UpstreamFailure extends GatehouseError {
  readonly reason: UpstreamFailureReason;
  readonly upstreamId: string | undefined;
  /** the local account concerned, when there is one (the audit row names it) */
  readonly accountId: string | undefined;

  /** `description` is shown to the person: never an upstream's raw text beyond its error code. */
  constructor(
    reason: UpstreamFailureReason,
    description: string,
    options: { upstreamId?: string | undefined; accountId?: string | undefined; cause?: unknown } = {},
  ) {
    const { status, error } = ANSWERS[reason];
    super('ERR_UPSTREAM', `upstream sign-in failed: ${reason}`, { status, error, description, cause: options.cause });
    this.reason = reason;
    this.upstreamId = options.upstreamId;
    this.accountId = options.accountId;
  }
}
