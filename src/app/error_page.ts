import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../core/log.js';
import type { RenderPage } from '../pages/render_page.js';
import { describeError } from '../provider/hosted_provider_pages.js';
import { loggedPath } from '../http/logged_path.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, unavailableReason } from '../core/database_unavailable.js';

interface HttpishError {
  status?: number;
  statusCode?: number;
  error?: string;
  error_description?: string;
  type?: string;
  expose?: boolean;
}

// The last Express handler: a human page with the OAuth error code, never a stack trace.
// Errors that carry an HTTP status below 500 (oidc-provider's errors, body parser limits) keep it.
export function errorPage(render: RenderPage, log: Logger): ErrorRequestHandler {
  return (err: HttpishError & Error, req, res, _next) => {
    if (isDatabaseUnavailable(err)) {
      // Not a fault of this request, nor a bug: one warning line, no stack, and a page that
      // says to try again (the hosted pages carry no state a reload would lose).
      log.warn({ event: 'db.unavailable', path: loggedPath(req.path), reason: unavailableReason(err) }, 'database unavailable');
      if (res.headersSent) return;
      const { heading, message } = describeError('temporarily_unavailable');
      render('error', { heading, message, code: 'temporarily_unavailable' })
        .then((html) => res.status(503).set('retry-after', String(RETRY_AFTER_SECONDS)).type('html').send(html))
        .catch(() => res.status(503).type('text').send('temporarily_unavailable'));
      return;
    }
    const status = err.statusCode ?? err.status ?? 500;
    // SessionNotFound carries error = 'invalid_request' too; a person needs to hear it expired.
    const code =
      err.name === 'SessionNotFound'
        ? 'session_not_found'
        : (err.error ?? (status === 413 ? 'request_too_large' : status < 500 ? 'invalid_request' : 'server_error'));
    if (status >= 500) log.error({ err, path: loggedPath(req.path) }, 'request failed');
    else log.info({ path: loggedPath(req.path), error: code }, 'request refused');
    const { heading, message } =
      code === 'request_too_large'
        ? { heading: 'Request too large', message: 'The form you sent is larger than this service accepts.' }
        : describeError(code, status < 500 ? err.error_description : undefined);
    if (res.headersSent) return;
    render('error', { heading, message, code })
      .then((html) =>
        res
          .status(status >= 400 && status < 600 ? status : 500)
          .type('html')
          .send(html),
      )
      .catch(() => res.status(500).type('text').send('server_error'));
  };
}
