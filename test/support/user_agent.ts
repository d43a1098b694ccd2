import * as cheerio from 'cheerio';
import { CookieJar } from 'tough-cookie';

// A minimal browser for HTTP-level tests: keeps cookies (tough-cookie), follows redirects one
// at a time, and fills and submits the hosted pages' forms. Real-browser behaviour (CSP,
// JavaScript) is covered by the Chromium test.

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  $: cheerio.CheerioAPI;
}

/**
 * Where a request for a public URL really goes, and with which extra headers: say, a public
 * https:// issuer served by the test server behind a pretend TLS-terminating proxy. Cookies
 * stay keyed by the public URL, as in a browser.
 */
export type Route = (url: URL) => { url: string; headers?: Record<string, string> } | undefined;

export class UserAgent {
  readonly jar = new CookieJar();

  /** `headers`: sent with every request unless the request sets its own (say, Accept-Language). */
  constructor(
    private readonly route?: Route,
    private readonly defaults: { headers?: Record<string, string> } = {},
  ) {}

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers = new Headers({ ...this.defaults.headers, ...init.headers });
    // What a browser sends on a navigation; oidc-provider answers `*/*` (fetch's default) with
    // JSON error bodies instead of its HTML error page.
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.set('cookie', cookie);
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const routed = this.route?.(new URL(url));
    for (const [name, value] of Object.entries(routed?.headers ?? {})) headers.set(name, value);
    const response = await fetch(routed?.url ?? url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const set of response.headers.getSetCookie()) await this.jar.setCookie(set, url, { ignoreError: true });
    return response;
  }

  /**
   * Follows redirects from `url` until a response is not a redirect, or a redirect leads to
   * `stopAt` (the relying party, which does not run in these tests). Returns the last page, or
   * the URL the browser would have gone to at `stopAt`.
   */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}, stopAt?: string): Promise<Page | { redirectedTo: string }> {
    let current = url;
    let response = await this.request(current, init);
    for (let hops = 0; hops < 20; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) break;
      current = new URL(location, current).href;
      if (stopAt && current.startsWith(stopAt)) return { redirectedTo: current };
      response = await this.request(current);
    }
    const body = await response.text();
    return { url: current, status: response.status, headers: response.headers, body, $: cheerio.load(body) };
  }

  /** Submits the form matched by `selector` on `page`, with its hidden fields plus `fields`. */
  async submit(page: Page, selector: string, fields: Record<string, string> = {}, stopAt?: string, submitter?: { name: string; value: string }) {
    const form = page.$(selector).first();
    if (form.length === 0) throw new Error(`no form ${selector} on ${page.url}: ${page.body.slice(0, 500)}`);
    const data: Record<string, string> = {};
    form.find('input').each((_i, el) => {
      const input = page.$(el);
      const name = input.attr('name');
      const type = input.attr('type');
      // A browser sends a checkbox only when it is ticked.
      if (type === 'checkbox' && input.attr('checked') === undefined) return;
      if (name && type !== 'submit') data[name] = input.attr('value') ?? '';
    });
    if (submitter) data[submitter.name] = submitter.value;
    const action = new URL(form.attr('action') ?? page.url, page.url).href;
    return this.follow(action, { method: (form.attr('method') ?? 'get').toUpperCase(), form: { ...data, ...fields } }, stopAt);
  }
}

export function isPage(result: Page | { redirectedTo: string }): result is Page {
  return 'body' in result;
}
