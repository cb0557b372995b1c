/**
 * A fastify instance with Portcullis's edge conventions: typed errors mapped to
 * problem+json (or OAuth errors under /oauth2/), no stack traces, no framework error
 * texts, security headers, and request logs without credentials.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { auditedChange } from '../audit/change.js';
import { PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { oauthError, problem, type WireError } from './wire-errors.js';

const FASTIFY_CODES: Record<string, () => PortcullisError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new PortcullisError('request.unsupported-media-type', 'unsupported content type'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new PortcullisError('request.body-too-large', 'request body too large'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new PortcullisError('request.malformed', 'empty JSON body'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new PortcullisError('request.malformed', 'invalid Content-Length'),
  FST_ERR_CTP_INVALID_TYPE: () => new PortcullisError('request.malformed', 'invalid content type'),
};

/** The typed error the plane answers for a thrown one (framework and parser errors mapped to their codes); any other value as it is. */
export function toTyped(err: unknown): unknown {
  if (err instanceof PortcullisError) return err;
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e.code && FASTIFY_CODES[e.code]) return FASTIFY_CODES[e.code]!();
  if (e.validation) return new PortcullisError('request.invalid', e.message ?? 'invalid request');
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new PortcullisError('request.malformed', 'body is not valid JSON');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new PortcullisError('request.malformed', 'malformed request');
  return err;
}

export function sendWire(reply: FastifyReply, w: WireError) {
  return reply.code(w.status).headers(w.headers).send(w.body);
}

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' } as const;

/** Errors fastify raises before routing (its `frameworkErrors`): bad percent-encoding, an over-long path parameter. */
function frameworkError(err: { code?: string }): PortcullisError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return new PortcullisError('request.malformed', 'a path parameter is too long', { status: 414 });
  if (err.code === 'FST_ERR_BAD_URL') return new PortcullisError('request.malformed', 'the path is not validly percent-encoded');
  return new PortcullisError('request.malformed', 'malformed request');
}

/** What Node's HTTP parser raises before a request exists (oversized headers or URL, a timeout, bytes that are not HTTP). */
function clientError(err: { code?: string }): PortcullisError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new PortcullisError('request.headers-too-large', 'request headers (or the URL) exceed the size limit');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new PortcullisError('request.timeout', 'request not received in time');
  return new PortcullisError('request.malformed', 'malformed HTTP request');
}

/** fastify's `clientErrorHandler`: the answer is problem+json, as every other error of the plane, not fastify's own JSON. */
function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // a response under way on this socket: bytes written now would land inside it
  if (socket.writable && (socket as Duplex & { _httpMessage?: unknown })._httpMessage == null) {
    const w = problem(clientError(err));
    const body = JSON.stringify(w.body);
    const head = { ...w.headers, ...SECURITY_HEADERS, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
    socket.write(`HTTP/1.1 ${w.status} ${STATUS_CODES[w.status] ?? 'Error'}\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroy();
}

export interface HttpServerExtras {
  /** The methods a path is served with, for 405 (see `notFoundHandler`). */
  otherMethods?: (path: string) => readonly string[] | undefined;
  /**
   * A plane's own answer to a request whose path is not validly percent-encoded (fastify
   * rejects it before routing), where its clients expect something other than problem+json:
   * the reply it sent, or undefined for the usual 400.
   */
  badUrl?: (req: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

export function createHttpServer(logger: Logger, options: FastifyServerOptions = {}, extra: HttpServerExtras = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: 200 },
    // answered by the onRequest hook below, as problem+json like every other error, not fastify's own JSON
    return503OnClosing: false,
    clientErrorHandler: onClientError,
    // raised before routing, so no hook runs: the security headers are set here too
    frameworkErrors: (err, req, reply) => {
      reply.headers(SECURITY_HEADERS);
      const own = (err as { code?: string }).code === 'FST_ERR_BAD_URL' ? extra.badUrl?.(req, reply) : undefined;
      if (own !== undefined) return own;
      const typed = frameworkError(err as { code?: string });
      return sendWire(reply, req.url.startsWith('/oauth2/') ? oauthError(typed) : problem(typed));
    },
    ...options,
  });
  // each request's handler is one change: a flush it awaits answers for the drops of its own audit events (audit/change.ts)
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
      return auditedChange(() => handler.call(this, req, reply));
    };
  });
  // fastify.close() marks the instance closing (and makes the router add Connection: close) before preClose
  let stopping = false;
  app.addHook('preClose', (done) => {
    stopping = true;
    done();
  });
  // a request on a connection kept alive past the start of the stop is not run: it is refused as the
  // last one on that connection, so the stop is not held up and a load balancer sends it elsewhere
  app.addHook('onRequest', (req, reply, done) => {
    if (!stopping) return done();
    const w = problem(new PortcullisError('node.stopping', 'this node is stopping; send the request again on a new connection', { expose: true }));
    if (req.raw.httpVersionMajor !== 2) w.headers.connection = 'close';
    // (the onSend hook below adds the security headers)
    sendWire(reply, w);
  });
  // a callback hook, not an async one: it runs on every response, and an async hook costs a promise and a microtask turn
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.headers(SECURITY_HEADERS);
    done(null, payload);
  });
  app.setErrorHandler((err, req, reply) => {
    const typed = toTyped(err);
    if (!(typed instanceof PortcullisError) || typed.status >= 500) {
      logger.error({ err: typed, method: req.method, url: req.routeOptions.url }, 'request failed');
    }
    const wire = req.url.startsWith('/oauth2/') ? oauthError(typed) : problem(typed);
    return sendWire(reply, wire);
  });
  app.setNotFoundHandler(notFoundHandler(extra.otherMethods));
  return app;
}

/**
 * A not-found handler: 404 `not-found`, or, when `otherMethods` names the methods the path is
 * served with, 405 `method.not-allowed` with `Allow` listing them (RFC 9110 §15.5.6: "The origin
 * server MUST generate an Allow header field in a 405 response").
 *
 * @example
 * v1.setNotFoundHandler(notFoundHandler(methodsOf(routes)));
 */
export function notFoundHandler(otherMethods?: (path: string) => readonly string[] | undefined) {
  return (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!;
    const allowed = otherMethods?.(path);
    if (allowed === undefined || allowed.length === 0) return sendWire(reply, problem(new PortcullisError('not-found', `no such endpoint: ${req.method} ${path}`)));
    const list = allowed.length === 1 ? allowed[0]! : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)!}`;
    const wire = problem(new PortcullisError('method.not-allowed', `${req.method} is not allowed on ${path}: use ${list}`));
    wire.headers.allow = allowed.join(', ');
    return sendWire(reply, wire);
  };
}
