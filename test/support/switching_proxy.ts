import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A load balancer the test steers: one public origin (the issuer every instance is configured
// with) in front of several instances, forwarding each request to whichever instance the test
// chose last. It records who served what, so a test can show a flow crossed instances.

export interface Served {
  target: string;
  method: string;
  path: string;
  status: number;
}

export interface SwitchingProxy {
  /** the public origin, e.g. http://127.0.0.1:41234 */
  url: string;
  /** send the following requests to `target` (an origin such as http://127.0.0.1:5000) */
  use(target: string): void;
  served: Served[];
  close(): Promise<void>;
}

export async function startSwitchingProxy(): Promise<SwitchingProxy> {
  let target: string | undefined;
  const served: Served[] = [];
  const server = http.createServer((req, res) => {
    const to = target;
    if (!to) {
      res.writeHead(503).end('no instance chosen');
      return;
    }
    const upstream = http.request(
      new URL(req.url ?? '/', to),
      // A new connection each time: the next request may go elsewhere.
      { method: req.method, headers: req.headers, agent: false },
      (answer) => {
        served.push({ target: to, method: req.method ?? 'GET', path: req.url ?? '/', status: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502).end(`proxy: ${error.message}`);
      else res.destroy(error);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    use: (origin) => {
      target = origin;
    },
    served,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The origin a started test server listens on (not its issuer). */
export function originOf(server: http.Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
