import type Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC, Client } from 'oidc-provider';
import type { RenderPage } from '../pages/render_page.js';
import type { ScopeClaims } from '../accounts/scope_claims.js';
import { describeScope } from '../pages/scope_descriptions.js';
import { UserCodeLocked } from '../throttling/user_code_lockout.js';
import type { ResourceServers } from './resource_servers.js';
import type { sessionCookieOptions } from './session_cookie_options.js';
import { t, useUiLocales } from '../i18n/page_language.js';

// The device authorization grant (RFC 8628, README "Devices"): oidc-provider runs the protocol
// (the device authorization endpoint, /device, the device_code grant) and hands the user to the
// same interactions as any sign-in (login, second factor, consent) in between; Gatehouse draws
// its three pages with our layout and no inline script:
//   /device              the code input (views/device_code.ejs), also its errors and the lockout;
//   POST /device         "Connect <client>?" naming the client and what it asks for, Allow/Deny;
//   after the sign-in    done: connected, or denied (views/device_done.ejs).
// The forms are the library's own (field `xsrf` is its CSRF token, kept in the session).
//
// User codes: eight letters of base-20 (BCDFGHJKLMNPQRSTVWXZ: no vowels, so no words, and none
// of 0/O, 1/I/L look-alikes), shown as XXXX-XXXX; the library upper-cases what is typed and drops
// anything that is not a letter or digit, so `bcdf ghjk` and `BCDF-GHJK` are the same code.

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

export interface DeviceFlowPagesDeps {
  render: RenderPage;
  scopeClaims: ScopeClaims;
  resources: ResourceServers;
  /** the options of the session cookie (session_cookie_options.ts) */
  sessionCookie: ReturnType<typeof sessionCookieOptions>;
}

/** How long a session made only to carry /device's CSRF secret lives (as an interaction). */
const FORM_SESSION_SECONDS = 3600;

/**
 * A POST to /device without a live session (no cookie, or one whose session expired) fails the
 * library's CSRF check; its error handler then puts a fresh CSRF secret into a session that was
 * never saved, and the library's final save of it throws (a 500). Saved here, with its cookie,
 * the page shows again with a form that works.
 */
async function keepFormSession(ctx: KoaContextWithOIDC, cookie: DeviceFlowPagesDeps['sessionCookie']): Promise<void> {
  const session = ctx.oidc.session as (KoaContextWithOIDC['oidc']['session'] & { id: string; touched?: boolean; exp?: number }) | undefined;
  if (!session || typeof session.exp === 'number' || !session.touched) return;
  ctx.oidc.cookies.set(ctx.oidc.provider.cookieName('session'), session.id, cookie);
  await session.save(FORM_SESSION_SECONDS);
}

/** What a prefilled link (verification_uri_complete) carried, kept for the input page. */
const PREFILLED = Symbol('prefilled user code');
type WithPrefill = KoaContextWithOIDC & { [PREFILLED]?: string };

/** The library's names for the ways a typed code is refused (helpers/re_render_errors.js), and what the page says. */
const CODE_ERRORS: Record<string, () => string> = {
  NoCodeError: () => t('device_code.error.no_code'),
  NotFoundError: () => t('device_code.error.not_found'),
  ExpiredError: () => t('device_code.error.expired'),
  AlreadyUsedError: () => t('device_code.error.used'),
};

/**
 * A device may say which language its user reads (`ui_locales` in its device authorization
 * request, RFC 8628 3.1): once the code is known, /device speaks it, as the sign-in pages then do.
 */
function speakDeviceLanguage(ctx: KoaContextWithOIDC): void {
  useUiLocales(ctx.oidc.entities.DeviceCode?.params?.ui_locales);
}

const clientNameOf = (client: Client | undefined) => (client ? (client.clientName ?? client.clientId) : undefined);

async function sendPage(ctx: KoaContextWithOIDC, render: RenderPage, view: string, locals: Record<string, unknown>): Promise<void> {
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = await render(view, locals);
}

/** The scopes a device asks for, in the consent page's words: OIDC ones described, API ones by API. */
function describeRequest(scope: unknown, { scopeClaims, resources }: DeviceFlowPagesDeps) {
  const requested = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
  const scopes = requested.map((s) => describeScope(s, scopeClaims.identityResources)).filter((s): s is string => !!s);
  const byApi = new Map<string, string[]>();
  for (const s of requested) {
    const owner = resources.ownerOf(s);
    if (owner) byApi.set(owner, [...(byApi.get(owner) ?? []), s]);
  }
  const apis = [...byApi].map(([identifier, list]) => ({ name: resources.byIdentifier(identifier)?.name ?? identifier, scopes: list }));
  return { scopes, apis };
}

export function deviceFlowFeature(deps: DeviceFlowPagesDeps): DeviceFlowFeature {
  const { render } = deps;
  return {
    enabled: true,
    charset: 'base-20',
    mask: '****-****',
    // What the device's request showed of itself is not shown: an IP address and a user agent
    // tell a person nothing they can check, and the code on the screen is what they compare.
    deviceInfo: () => ({}),

    async userCodeInputSource(ctx, _form, _out, err) {
      await keepFormSession(ctx, deps.sessionCookie);
      speakDeviceLanguage(ctx);
      const action = ctx.oidc.urlFor('code_verification');
      if (err instanceof UserCodeLocked) {
        // The status (429) and Retry-After are set by the error handler and the lockout.
        await sendPage(ctx, render, 'device_locked', { minutes: Math.max(1, Math.ceil(err.retryAfterSeconds / 60)) });
        return;
      }
      if (err?.name === 'AbortedError') {
        // Denied on the confirmation the library has loaded the code, not its client.
        const clientId = ctx.oidc.entities.DeviceCode?.clientId;
        const client = ctx.oidc.client ?? (clientId ? await ctx.oidc.provider.Client.find(clientId) : undefined);
        await sendPage(ctx, render, 'device_done', { approved: false, clientName: clientNameOf(client), action });
        return;
      }
      const xsrf = (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '';
      const typed = (err as { userCode?: unknown } | undefined)?.userCode;
      const error = err ? (CODE_ERRORS[err.name] ?? (() => t('device_code.error.form_expired')))() : undefined;
      // A form that failed for another reason (its xsrf token, a lost session) is shown again as 400.
      if (err && !CODE_ERRORS[err.name]) ctx.status = 400;
      await sendPage(ctx, render, 'device_code', {
        action,
        xsrf,
        error,
        userCode: typeof typed === 'string' ? typed : ((ctx as WithPrefill)[PREFILLED] ?? ''),
      });
    },

    async userCodeConfirmSource(ctx, _form, client, _deviceInfo, userCode) {
      speakDeviceLanguage(ctx);
      const code = ctx.oidc.entities.DeviceCode;
      await sendPage(ctx, render, 'device_confirm', {
        action: ctx.oidc.urlFor('code_verification'),
        xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '',
        userCode,
        clientName: clientNameOf(client),
        ...describeRequest(code?.params?.scope, deps),
      });
    },

    async successSource(ctx) {
      speakDeviceLanguage(ctx);
      await sendPage(ctx, render, 'device_done', { approved: true, clientName: clientNameOf(ctx.oidc.client), action: ctx.oidc.urlFor('code_verification') });
    },
  };
}

/**
 * verification_uri_complete (`/device?user_code=…`): the library would answer with a page that
 * posts the code by inline script. Instead the input page is shown with the code filled in, and
 * the person presses Continue (no script, and nothing happens before they look at the code).
 */
export function prefillUserCodeFromLink(provider: Provider): void {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/device' && typeof ctx.query.user_code === 'string') {
      const { user_code: userCode, ...rest } = ctx.query;
      (ctx as WithPrefill)[PREFILLED] = userCode.slice(0, 32);
      ctx.query = rest;
    }
    await next();
  });
}
