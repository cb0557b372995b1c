/**
 * The baseline: the fastest plain reverse proxy we can write in Node, with nothing but
 * proxying: node:http in, undici Pool `dispatch()` out, raw headers relayed. A body of up
 * to 64 KiB announced by Content-Length is read whole and sent with the head in one
 * write, as the gateway does (cheaper than piping the request stream into undici);
 * larger or chunked bodies stream through with backpressure. No routing, no policy.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const upstream = process.env['UPSTREAM_URL']!;
const pool = new Pool(upstream, { connections: Number(process.env['CONNECTIONS'] ?? 64), pipelining: 1, keepAliveTimeout: 30_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect']);

class Relay implements Dispatcher.DispatchHandler {
  private resume: (() => void) | undefined;
  private abort: ((err?: Error) => void) | undefined;
  constructor(private readonly res: http.ServerResponse) {}
  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    this.resume = resume;
    // a client that left must not hold an upstream connection
    if (this.res.destroyed) {
      this.abort?.();
      return false;
    }
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
    }
    this.res.writeHead(status, out);
    return true;
  }
  onData(chunk: Buffer): boolean {
    const res = this.res;
    if (res.write(chunk)) return true;
    if (res.destroyed) {
      this.abort?.();
      return false;
    }
    const onDrain = () => {
      res.off('close', onClose);
      this.resume?.();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      this.abort?.();
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
    return false;
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.statusCode = 502;
      this.res.end();
    }
  }
}

const SMALL = 64 * 1024;

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  let hasBody = false;
  let length = -1;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'content-length') (hasBody = true), (length = Number(raw[i + 1]));
    else if (lower === 'transfer-encoding') (hasBody = true), (chunked = true);
    if (!HOP.has(lower)) headers.push(raw[i]!, raw[i + 1]!);
  }
  const send = (body: Dispatcher.DispatchOptions['body']) => pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body }, new Relay(res));
  if (!hasBody) return send(null);
  if (chunked || !(length > 0 && length <= SMALL)) return send(req);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
