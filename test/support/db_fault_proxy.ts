import net from 'node:net';

// A TCP proxy between Gatehouse and Postgres that a test breaks the ways a database fails in
// production, and mends again:
// - down():      the server is gone. Open connections are reset, new ones refused (ECONNREFUSED).
// - starting():  the server is (re)starting. New connections are answered FATAL 57P03 "the
//                database system is starting up", as Postgres does until it accepts queries.
// - blackhole(): the network drops everything. Connections are accepted and nothing is ever
//                answered, on new connections and on the ones already open.
// - restore():   healthy again. Connections stalled by a blackhole are dropped (as a partition
//                that outlasts TCP timeouts drops them); new ones reach Postgres.

export interface DbFaultProxy {
  readonly port: number;
  /** `databaseUrl` with its host and port replaced by the proxy's */
  url(databaseUrl: string): string;
  down(): Promise<void>;
  starting(): void;
  blackhole(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'pass' | 'down' | 'starting' | 'blackhole';

/** A Postgres ErrorResponse message (protocol 3.0) with severity FATAL. */
function fatalMessage(sqlstate: string, message: string): Buffer {
  const fields = Buffer.concat([
    ...[
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', sqlstate],
      ['M', message],
    ].map(([type, value]) => Buffer.from(`${type!}${value!}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'ascii');
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

export async function startDbFaultProxy(target: { host: string; port: number }): Promise<DbFaultProxy> {
  let mode: Mode = 'pass';
  const open = new Set<net.Socket>();
  const stalled = new Set<net.Socket>();

  const track = (socket: net.Socket, set: Set<net.Socket>) => {
    set.add(socket);
    socket.once('close', () => set.delete(socket));
    socket.on('error', () => undefined);
  };

  const server = net.createServer((client) => {
    if (mode === 'starting') {
      track(client, open);
      // The client speaks first (its startup message); Postgres answers it with the error.
      client.once('data', () => client.end(fatalMessage('57P03', 'the database system is starting up')));
      return;
    }
    if (mode === 'blackhole') {
      track(client, stalled);
      client.pause();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(client, open);
    track(upstream, open);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.on('error', () => undefined);

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  const destroyAll = (set: Set<net.Socket>, reset: boolean) => {
    for (const socket of set) {
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    set.clear();
  };

  return {
    port,
    url(databaseUrl) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    async down() {
      mode = 'down';
      const closed = stopListening();
      destroyAll(open, true);
      destroyAll(stalled, true);
      await closed;
    },
    starting() {
      mode = 'starting';
    },
    blackhole() {
      mode = 'blackhole';
      // Open connections stop carrying anything, in both directions.
      for (const socket of open) {
        socket.unpipe();
        socket.pause();
        open.delete(socket);
        track(socket, stalled);
      }
    },
    async restore() {
      destroyAll(stalled, true);
      if (mode === 'down') await listen(port);
      mode = 'pass';
    },
    async close() {
      const closed = stopListening();
      destroyAll(open, false);
      destroyAll(stalled, false);
      await closed;
    },
  };
}
