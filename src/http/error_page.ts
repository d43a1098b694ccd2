import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../log.js';
import type { RenderPage } from './render_page.js';
import { describeError } from '../oidc/hosted_provider_pages.js';
import { loggedPath } from './logged_path.js';

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
      .then((html) => res.status(status >= 400 && status < 600 ? status : 500).type('html').send(html))
      .catch(() => res.status(500).type('text').send('server_error'));
  };
}
