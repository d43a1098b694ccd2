import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { withHeldWrites } from '../db/held_writes.js';
import { MACHINE_PATHS } from '../http/machine_paths.js';
import { isDatabaseUnavailable } from '../core/database_unavailable.js';
import type { Logger } from '../core/log.js';

// The writes of a request to oidc-provider's routes (a sign-in's resume saves a grant, a code and
// a session, and deletes its interaction) are held and sent as one statement once the route has
// answered and before Koa writes that answer (db/held_writes.ts). The library's last save of a
// changed session (ensureSessionSave) runs inside the routes, so it is held too. A failed send
// replaces the answer: a database outage goes on to database_outage.ts (503), anything else is
// the route's kind of server_error (a page or JSON). The browser never follows a redirect to a
// session, code or grant that was not stored.
// The machine endpoints hold nothing: a token request's saves (a rotated refresh token) are sent
// before it answers anyway, and unheld they share one statement with the other requests of the
// same turn of the event loop (db/per_turn_batch.ts), which one hold per request would not.

type RenderError = (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, error: Error) => Promise<void>;

export function flushHeldWrites(provider: Provider, renderError: RenderError, log: Logger): void {
  provider.use(async (ctx, next) => {
    if (MACHINE_PATHS.has(ctx.path)) {
      await next();
      return;
    }
    await withHeldWrites(async (hold) => {
      try {
        await next();
      } finally {
        // Also after a route's error: what it wrote before failing is written, as it was before.
        try {
          await hold.close();
        } catch (error) {
          if (isDatabaseUnavailable(error)) throw error;
          log.error({ err: error }, 'could not write the request’s changes');
          const out = { error: 'server_error', error_description: 'oops! something went wrong' };
          ctx.status = 500;
          ctx.set('cache-control', 'no-store');
          ctx.remove('location');
          if (ctx.accepts('json', 'html') === 'html') await renderError(ctx as KoaContextWithOIDC, out, error as Error);
          else ctx.body = out;
        }
      }
    });
  });
}
