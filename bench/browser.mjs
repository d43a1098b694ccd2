import http from 'node:http';

// A scripted browser for the sign-in flows: one cookie jar, redirects followed by the caller,
// forms posted urlencoded. Raw node:http on a keep-alive agent, because the load generator
// shares two cores with the servers and fetch costs several times more CPU per request.

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export const form = (fields) => new URLSearchParams(fields).toString();

/** RFC 6749 2.3.1: form-encode, then base64. */
export const basic = (clientId, secret) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export class Browser {
  #cookies = new Map();

  async go(url, { method = 'GET', fields } = {}) {
    const headers = {};
    if (this.#cookies.size) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (fields) {
      body = form(fields);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const res = await request(url, { method, headers, body });
    for (const line of res.headers['set-cookie'] ?? []) this.#store(line);
    return res;
  }

  // Paths are ignored: every cookie goes everywhere. The provider reads cookies by name, and a
  // cleared cookie (empty, or expired) is dropped, which is all the flows need.
  #store(line) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expires = attributes.map((a) => a.trim()).find((a) => /^expires=/i.test(a));
    const expired = expires && new Date(expires.slice(8)).getTime() < Date.now();
    if (!value || expired) this.#cookies.delete(name);
    else this.#cookies.set(name, value);
  }
}
