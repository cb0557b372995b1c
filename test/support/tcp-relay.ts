/**
 * A TCP relay between a node under test and a real server (the machine's Redis or
 * PostgreSQL), which the test cuts and restores as a network partition would, without
 * touching the server other tests share. `cut` drops every connection and refuses new
 * ones (the client sees a reset at once); `stall` keeps connections open but forwards
 * nothing either way (a peer gone silent: no reset, no answer); `restore` lets
 * connections through again on the same port.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface Relay {
  /** `target` with host and port replaced by the relay's. */
  url: string;
  cut(): void;
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * @example
 * const relay = await openRelay(redisUrl());
 * const store = await openEphemeralStore(relay.url, { prefix });
 * relay.cut(); // … every command now fails
 * relay.restore();
 */
export async function openRelay(target: string): Promise<Relay> {
  const t = new URL(target);
  const targetPort = Number(t.port || (t.protocol.startsWith('redis') ? 6379 : 5432));
  let mode: 'open' | 'cut' | 'stall' = 'open';
  const sockets = new Set<Socket>();
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    return s;
  };
  const dropAll = (): void => {
    for (const s of sockets) s.destroy();
  };
  const server = createServer((client) => {
    track(client);
    if (mode === 'cut') return void client.destroy();
    if (mode === 'stall') return void client.resume();
    const upstream = track(connect(targetPort, t.hostname));
    client.on('data', (d) => void (mode === 'open' && upstream.write(d)));
    upstream.on('data', (d) => void (mode === 'open' && client.write(d)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    cut: () => {
      mode = 'cut';
      dropAll();
    },
    stall: () => {
      mode = 'stall';
    },
    restore: () => {
      // a stalled connection lost bytes both ways: what it carries next would be garbage
      if (mode === 'stall') dropAll();
      mode = 'open';
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
