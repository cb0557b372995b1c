/**
 * A fastify instance with Portcullis's edge conventions: typed errors mapped to
 * problem+json (or OAuth errors under /oauth2/), no stack traces, no framework error
 * texts, security headers, and request logs without credentials.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
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

function toTyped(err: unknown): unknown {
  if (err instanceof PortcullisError) return err;
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e.code && FASTIFY_CODES[e.code]) return FASTIFY_CODES[e.code]!();
  if (e.validation) return new PortcullisError('request.invalid', e.message ?? 'invalid request');
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new PortcullisError('request.malformed', 'body is not valid JSON');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new PortcullisError('request.malformed', 'malformed request');
  return err;
}

export function sendWire(reply: import('fastify').FastifyReply, w: WireError) {
  return reply.code(w.status).headers(w.headers).send(w.body);
}

export function createHttpServer(logger: Logger, options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    ...options,
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  });
  app.setErrorHandler((err, req, reply) => {
    const typed = toTyped(err);
    if (!(typed instanceof PortcullisError) || typed.status >= 500) {
      logger.error({ err: typed, method: req.method, url: req.routeOptions.url }, 'request failed');
    }
    const wire = req.url.startsWith('/oauth2/') ? oauthError(typed) : problem(typed);
    return sendWire(reply, wire);
  });
  app.setNotFoundHandler((req, reply) => sendWire(reply, problem(new PortcullisError('not-found', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`))));
  return app;
}
