import type Provider from 'oidc-provider';
import type { RenderPage } from '../pages/render_page.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../core/database_unavailable.js';
import { setRetryAfter } from '../http/retry_after.js';
import { describeError } from './hosted_provider_pages.js';
import { onProviderEvent } from './provider_events.js';

// oidc-provider answers any exception from the adapter or our hooks with 500 server_error (an
// HTML page or JSON, by route and Accept header). When the cause is a database that cannot be
// reached, the truthful answer is 503 temporarily_unavailable with Retry-After: nothing is wrong
// with the request, and clients and people should simply try again. The library's error handlers
// sit inside each route, out of our reach, but they report the original exception through the
// 'server_error' event after writing their answer; a middleware around the routes then rewrites
// that answer, keeping the kind (page or JSON) the library chose.

const DESCRIPTION = 'the service is temporarily unavailable; try again shortly';

export function answerDatabaseOutages(provider: Provider, render: RenderPage): void {
  const outages = new WeakSet<object>();
  onProviderEvent(provider, 'server_error', (ctx, error) => {
    if (isDatabaseUnavailable(error)) outages.add(ctx);
  });

  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      // Thrown outside the routes' own handlers: still ours to answer if it is an outage.
      if (!isDatabaseUnavailable(error)) throw error;
      outages.add(ctx);
    }
    if (!outages.has(ctx)) return;
    const page = ctx.body ? Boolean(ctx.response.is('html')) : ctx.accepts('json', 'html') === 'html';
    ctx.status = 503;
    setRetryAfter(ctx, RETRY_AFTER_SECONDS);
    ctx.set('cache-control', 'no-store');
    if (page) {
      const { heading, message } = describeError('temporarily_unavailable');
      ctx.type = 'html';
      ctx.body = await render('error', { heading, message, code: 'temporarily_unavailable' });
    } else {
      ctx.body = { error: 'temporarily_unavailable', error_description: DESCRIPTION };
    }
  });
}
