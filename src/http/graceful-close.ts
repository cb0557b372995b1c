/**
 * Graceful stop of a plain Node HTTP(S) listener (the gateway's; the fastify planes refuse
 * a request that arrives on a busy kept-alive connection once the stop began with 503
 * `node.stopping` and `Connection: close`, see createHttpServer). `server.close()` stops accepting and closes the
 * connections idle at that moment, but a kept-alive connection busy then stays open, and
 * a client that sends its next request as soon as a response ends (a load balancer, a
 * pool) is served on it for as long as it keeps doing so: the node never stops.
 *
 * RFC 9112 §9.6: "A server that sends a "close" connection option MUST initiate closure of
 * the connection after it sends the response containing that option." Once the stop
 * began, every response not yet started says `Connection: close` (Node then ends the
 * connection after it); a connection whose response was already under way closes after
 * a second without a request (its next request, if sooner, is answered with `close`).
 * `server.close()` closes the connections idle when the stop begins.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/** How long a connection may stay idle, once the stop began, after a response that announced keep-alive. */
const STOPPING_IDLE_MS = 1000;

type HttpSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * Tracks the listener's connections (one set entry per connection; nothing per request)
 * and returns the function that stops it gracefully.
 *
 * @example
 * const stop = gracefulCloser(server);
 * await stop(); // in-flight requests finish, each connection closes after its response
 */
export function gracefulCloser(server: Server): () => Promise<void> {
  const sockets = new Set<HttpSocket>();
  // the sockets HTTP requests arrive on: TLS sockets once their handshake is done, else TCP ones
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: HttpSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // a request that arrives on a kept-alive connection from now on is the last one on it
      server.prependListener('request', (_req, res: ServerResponse) => {
        res.shouldKeepAlive = false;
      });
      // a response already under way said keep-alive: its connection closes when idle this long
      // (a next request within it is answered with Connection: close)
      server.keepAliveTimeout = STOPPING_IDLE_MS;
      for (const socket of sockets) {
        const res = socket._httpMessage;
        if (res != null && !res.headersSent) res.shouldKeepAlive = false;
      }
    }));
}
