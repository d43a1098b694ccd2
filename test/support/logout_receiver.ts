import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A relying party's back-channel logout endpoint on loopback: records what arrives, and can be
// told to fail (503) or never answer, to test retries and timeouts.

export interface Delivery {
  path: string;
  contentType: string | undefined;
  logoutToken: string | null;
}

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface LogoutReceiver {
  /** the URI to register as backchannel_logout_uri */
  url: string;
  deliveries: Delivery[];
  /** logout tokens of the acknowledged deliveries */
  tokens(): string[];
  mode: ReceiverMode;
  close(): Promise<void>;
}

export async function startLogoutReceiver(path = '/backchannel-logout'): Promise<LogoutReceiver> {
  const receiver: LogoutReceiver = {
    url: '',
    deliveries: [],
    tokens: () => receiver.deliveries.map((d) => d.logoutToken ?? ''),
    mode: 'ok',
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (receiver.mode === 'hang') return; // never answers: the sender's timeout must end it
      if (receiver.mode === 'fail') return void res.writeHead(503).end();
      receiver.deliveries.push({ path: req.url ?? '', contentType: req.headers['content-type'], logoutToken: new URLSearchParams(body).get('logout_token') });
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}
