/**
 * A TCP proxy on 127.0.0.1 in front of a real service (PostgreSQL), for tests that cut the
 * service away from a running node: `cut()` ends every proxied connection and refuses new
 * ones (a database that went away: ECONNRESET, ECONNREFUSED); `blackhole()` keeps every
 * connection open and accepts new ones but forwards nothing either way (a network
 * partition: no answer, no error). `restore()` forwards again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  cut(): Promise<void>;
  blackhole(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'open' | 'cut' | 'blackhole' = 'open';
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const onConnection = (client: Socket) => {
    track(client);
    if (mode === 'cut') return void client.destroy();
    if (mode === 'blackhole') return void client.pause();
    const upstream = connect(target.port, target.host);
    track(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (mode === 'open') to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  let server: Server = createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer(onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const stop = () => new Promise<void>((r) => server.close(() => r()));
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async cut() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
      await stop();
    },
    blackhole() {
      mode = 'blackhole';
    },
    async restore() {
      if (mode === 'cut') await listen();
      mode = 'open';
    },
    async close() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
      if (server.listening) await stop();
    },
  };
}
