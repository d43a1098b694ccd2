import type { ErrorRequestHandler } from 'express';
import { errors } from 'oidc-provider';
import type { Logger } from '../core/log.js';
import type { RenderPage } from '../pages/render_page.js';
import { describeError } from '../provider/hosted_provider_pages.js';
import { loggedPath } from '../http/logged_path.js';
import { withPageLanguage } from '../i18n/page_language.js';
import { setRetryAfter } from '../http/retry_after.js';
import { GatehouseError } from '../core/errors.js';
import { DatabaseUnavailable, isDatabaseUnavailable, unavailableReason } from '../core/database_unavailable.js';

// The last Express handler: a human page with the OAuth error code, never a stack trace.
// Our own errors (GatehouseError) and oidc-provider's carry the status and code to answer with;
// Express's own stack (body-parser's size and syntax errors, the router's undecodable paths)
// reports an http-errors style `status`, which is kept (a 4xx shows as invalid_request, 413 as
// request_too_large). Anything else is a 500 that shows nothing of its message.

interface Answer {
  status: number;
  /** the OAuth-style code the page names, and which page text it shows */
  code: string;
  /** text the person may see beside it */
  description?: string | undefined;
  retryAfterSeconds?: number | undefined;
}

/** The status an error from Express's own stack carries (http-errors' `status`), if a 4xx or 5xx. */
function expressStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) < 600 ? (status as number) : undefined;
}

function answerFor(error: unknown): Answer {
  if (error instanceof GatehouseError) {
    const { status, retryAfterSeconds } = error;
    return { status, code: error.error, description: status < 500 ? error.description : undefined, retryAfterSeconds };
  }
  if (error instanceof errors.OIDCProviderError) {
    const status = error.statusCode;
    // SessionNotFound says invalid_request too; a person needs to hear the sign-in expired.
    const code = error instanceof errors.SessionNotFound ? 'session_not_found' : error.error;
    return { status, code, description: status < 500 ? error.error_description : undefined };
  }
  const status = expressStatus(error);
  if (status === 413) return { status, code: 'request_too_large' };
  if (status !== undefined && status < 500) return { status, code: 'invalid_request' };
  return { status: status ?? 500, code: 'server_error' };
}

export function errorPage(render: RenderPage, log: Logger): ErrorRequestHandler {
  return (thrown: unknown, req, res, _next) => {
    // A pg or PGlite failure that means an outage is answered as our DatabaseUnavailable.
    const error = thrown instanceof GatehouseError || !isDatabaseUnavailable(thrown) ? thrown : new DatabaseUnavailable(thrown);
    const answer = answerFor(error);
    if (error instanceof DatabaseUnavailable) {
      // Not a fault of this request, nor a bug: one warning line, no stack, and a page that
      // says to try again (the hosted pages carry no state a reload would lose).
      log.warn({ event: 'db.unavailable', path: loggedPath(req.path), reason: unavailableReason(error) }, 'database unavailable');
    } else if (answer.status >= 500 && !(error instanceof GatehouseError && error.code === 'ERR_UPSTREAM')) {
      // (An upstream's failure is a 502 that is no fault of ours: federation logs and audits it.)
      log.error({ err: thrown, path: loggedPath(req.path) }, 'request failed');
    } else {
      log.info({ path: loggedPath(req.path), error: answer.code }, 'request refused');
    }
    if (res.headersSent) return;
    if (answer.retryAfterSeconds !== undefined) setRetryAfter(res, answer.retryAfterSeconds);
    // An error before the page-language middleware (create_app.ts) still answers in the reader's language.
    withPageLanguage(req, res, () => {
      const { heading, message } = describeError(answer.code, answer.description);
      return render('error', { heading, message, code: answer.code });
    })
      .then((html) => res.status(answer.status).type('html').send(html))
      .catch(() => {
        // Without a page, an outage still says 503 (and what it is); anything else is our fault.
        const outage = answer.status === 503;
        res
          .status(outage ? 503 : 500)
          .type('text')
          .send(outage ? answer.code : 'server_error');
      });
  };
}
