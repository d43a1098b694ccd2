import http from 'node:http';
import { UserAgent } from './user_agent.js';

// A UserAgent whose requests go out through node:http, so that they can carry headers fetch()
// will not send as given (Host): for tests that forge them on every request.

export class RawUserAgent extends UserAgent {
  constructor(private readonly extraHeaders: Record<string, string>) {
    super();
  }

  override async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    Object.assign(headers, this.extraHeaders);
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    const chunks: Buffer[] = [];
    for await (const chunk of answer) chunks.push(chunk as Buffer);
    const responseHeaders = new Headers();
    for (let i = 0; i < answer.rawHeaders.length; i += 2) responseHeaders.append(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
    const status = answer.statusCode ?? 0;
    const response = new Response([204, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: responseHeaders });
    for (const set of response.headers.getSetCookie()) await this.jar.setCookie(set, url, { ignoreError: true });
    return response;
  }
}
