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

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' } as const;

/** Errors fastify raises before routing (its `frameworkErrors`): bad percent-encoding, an over-long path parameter. */
function frameworkError(err: { code?: string }): PortcullisError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return new PortcullisError('request.malformed', 'a path parameter is too long', { status: 414 });
  if (err.code === 'FST_ERR_BAD_URL') return new PortcullisError('request.malformed', 'the path is not validly percent-encoded');
  return new PortcullisError('request.malformed', 'malformed request');
}

export function createHttpServer(logger: Logger, options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // raised before routing, so no hook runs: the security headers are set here too
    frameworkErrors: (err, req, reply) => {
      const typed = frameworkError(err as { code?: string });
      return sendWire(reply.headers(SECURITY_HEADERS), req.url.startsWith('/oauth2/') ? oauthError(typed) : problem(typed));
    },
    ...options,
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
  app.setNotFoundHandler((req, reply) => sendWire(reply, problem(new PortcullisError('not-found', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`))));
  return app;
}
