/**
 * The admin plane: health, readiness, Prometheus metrics and the OpenAPI document in
 * the open; the admin REST API under /v1/ behind the admin bearer token (RFC 6750,
 * compared in constant time; requests without it are audited and throttled per client
 * address: admin-auth-failures.ts). Every change is audited with actor `admin` and the
 * audit trail is flushed before the answer, so an acknowledged change is durable; a
 * change that fails after it recorded events has them flushed before its error too.
 * Request bodies are never logged; no response carries a secret except the one-time
 * client secret of `POST /v1/apps` and `rotate-secret`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { AggregatorRegistry } from 'prom-client';
import { z } from 'zod';
import type { Services } from '../app.js';
import { PortcullisError } from '../core/errors.js';
import { adminTokenChecker } from './admin-auth.js';
import type { AdminTokenFile } from './admin-token-file.js';
import { adminHostCheck, rawRequestCheck } from './host-header.js';
import { AdminAuthFailures } from './admin-auth-failures.js';
import { appRoutes } from './admin/apps.js';
import { userRoutes } from './admin/users.js';
import { appKeyRoutes } from './admin/app-keys.js';
import { appEncryptionKeyRoutes } from './admin/app-encryption-keys.js';
import { transitRoutes } from './admin/transit.js';
import { webhookRoutes } from './admin/webhooks.js';
import { auditRoutes } from './admin/audit.js';
import { keyRoutes } from './admin/keys.js';
import { certificateRoutes } from './admin/certificates.js';
import { controlCharacterIssues, defineRoute, refuseBody, validate, type AdminRoute } from './admin/route.js';
import { Health, OpenApiDocument } from './admin/schemas.js';
import { tokenRoutes } from './admin/tokens.js';
import { buildOpenApiDocument } from './openapi.js';
import { jsonBodyParser } from './json-body.js';
import { createHttpServer, notFoundHandler, sendWire, toTyped } from './server.js';
import { problem } from './wire-errors.js';
import { notReady } from './readiness.js';

export interface AdminPlaneDeps {
  services: Services;
  /** The admin token, or its file, re-read while the plane runs when it changes (a node's). */
  adminToken: string | AdminTokenFile;
  health: { ready(): Promise<void> };
  /** Metrics kept elsewhere in this node (the gateway thread's), merged into /metrics. */
  moreMetrics?: () => Promise<object[]>;
}

export const ADMIN_REALM = 'portcullis-admin';
const V1 = '/v1';

function openRoutes(s: Services, health: AdminPlaneDeps['health'], document: () => Record<string, unknown>, moreMetrics: AdminPlaneDeps['moreMetrics']): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/healthz',
      operationId: 'health',
      summary: 'Liveness: the process answers.',
      tag: 'operations',
      auth: false,
      responses: { 200: { description: 'Alive.', schema: Health } },
      errors: [],
      async handler() {
        return { body: { status: 'ok' } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/readyz',
      operationId: 'ready',
      summary: 'Readiness: the stores answer, the durable store takes writes, a signing key is active and the gateway serves.',
      tag: 'operations',
      auth: false,
      responses: { 200: { description: 'Ready.', schema: Health } },
      // not ready: problem+json whose code names the check (store.not-writable, store.unavailable, gateway.not-in-sync, unavailable)
      errors: [503],
      async handler({ reply }) {
        try {
          await health.ready();
          return { body: { status: 'ready' } };
        } catch (err) {
          s.logger.warn({ err }, 'readiness check failed');
          // problem+json, as every other error of the plane
          const wire = notReady(err);
          reply.headers(wire.headers);
          return { status: wire.status, body: wire.body };
        }
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format).',
      tag: 'operations',
      auth: false,
      responses: { 200: { description: 'Metrics.', contentType: 'text/plain' } },
      errors: [],
      async handler() {
        if (moreMetrics === undefined) return { body: await s.metrics.metrics(), contentType: s.metrics.contentType };
        // the gateway thread's metrics beside this thread's (while it restarts, this thread's alone)
        const more = await moreMetrics().catch((err: unknown) => (s.logger.warn({ err }, 'gateway thread metrics unavailable'), [] as object[]));
        const merged = AggregatorRegistry.aggregate([await s.metrics.getMetricsAsJSON(), more]);
        return { body: await merged.metrics(), contentType: s.metrics.contentType };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document.',
      tag: 'operations',
      auth: false,
      responses: { 200: { description: 'The document.', schema: OpenApiDocument } },
      errors: [],
      async handler() {
        return { body: document() };
      },
    }),
  ];
}

function register(f: FastifyInstance, s: Services, r: AdminRoute, prefix: string): void {
  // A route that audits its refusals: `false` once the request passed the plane's onRequest
  // checks (host, admin token; preParsing runs only then), `true` once its handler runs. A
  // request refused in between (parser, body limit, the checks below) is handed to onRefused.
  const reached = r.onRefused !== undefined ? new WeakMap<FastifyRequest, boolean>() : undefined;
  const onRefused = r.onRefused;
  f.route({
    method: r.method,
    url: r.path.slice(prefix.length),
    ...(r.bodyLimit !== undefined ? { bodyLimit: r.bodyLimit } : {}),
    ...(reached !== undefined && onRefused !== undefined
      ? {
          preParsing: (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, payload?: RequestPayload) => void) => {
            reached.set(request, false);
            done(null, payload);
          },
          onError: (request: FastifyRequest, _reply: FastifyReply, err: Error, done: () => void) => {
            if (reached.get(request) === false) onRefused(request, toTyped(err));
            done();
          },
        }
      : {}),
    handler: async (request, reply) => {
      const badParams = controlCharacterIssues(request.params);
      if (badParams.length > 0) throw new PortcullisError('request.invalid', badParams.map((e) => `${e.path}: ${e.message}`).join('; '), { details: { errors: badParams } });
      // the query first: an unknown parameter is named even when the body is wrong too
      const query = r.query ? validate(r.query, withoutEmpty(request.query), 'query') : r.auth ? void validate(NO_QUERY, withoutEmpty(request.query), 'query') : undefined;
      let body: unknown;
      if (r.body) body = validate(r.body, request.body ?? undefined, 'body');
      else refuseBody(request);
      reached?.set(request, true);
      let result;
      try {
        result = await r.handler({ body, query, params: request.params as Record<string, string>, request, reply });
      } catch (err) {
        // a change that failed after it recorded its events (stored, but `change.not-in-force`) has them
        // stored before this answer too; if they cannot be, the answer is still the change's own failure
        if (r.method !== 'GET') await s.audit.flush().catch(() => undefined);
        throw err;
      }
      reply.code(result.status ?? 200);
      if (result.contentType) reply.type(result.contentType);
      return reply.send(result.body);
    },
  });
}

/** `?after=` means "not given", so the default applies; the name stays, so `?dry_run` is still an unknown parameter. */
function withoutEmpty(q: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((q ?? {}) as Record<string, unknown>)) out[k] = v === '' ? undefined : v;
  return out;
}

/** The query of an admin route that takes no parameters: any parameter is refused, as the paged lists refuse an unknown one. */
const NO_QUERY = z.strictObject({});

/**
 * The methods the routes serve at a request path (`/v1/apps/app_x`), HEAD with GET as fastify
 * serves it, in alphabetical order; undefined when no route has the path. Path parameters
 * match one non-empty segment, as in the router.
 *
 * @example
 * methodsOf(routes)('/v1/apps') // ['GET', 'HEAD', 'POST']
 */
export function methodsOf(routes: readonly AdminRoute[]): (path: string) => string[] | undefined {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = byPath.get(r.path) ?? new Set<string>();
    methods.add(r.method);
    if (r.method === 'GET') methods.add('HEAD');
    byPath.set(r.path, methods);
  }
  const table = [...byPath].map(([path, methods]) => ({
    pattern: new RegExp(`^${path.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`),
    methods,
  }));
  return (path) => {
    const allowed = new Set<string>();
    for (const t of table) if (t.pattern.test(path)) for (const m of t.methods) allowed.add(m);
    return allowed.size === 0 ? undefined : [...allowed].sort();
  };
}

/** Request bodies of admin routes, unless a route sets its own (the transit operations). */
const ADMIN_BODY_LIMIT = 256 * 1024;

/** Whether the request announces a Content-Length above its route's body limit (refused 413 without reading it). */
function tooLarge(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return length !== undefined && Number(length) > (request.routeOptions.bodyLimit ?? ADMIN_BODY_LIMIT);
}

/**
 * Builds the admin plane (not yet listening).
 *
 * @example
 * const admin = buildAdminPlane({ services, adminToken: new AdminTokenFile({ path, shown, audit, clock, logger }), health });
 * await admin.listen({ host: '127.0.0.1', port: 8081 });
 */
export function buildAdminPlane({ services, adminToken, health, moreMetrics }: AdminPlaneDeps): FastifyInstance {
  let doc: Record<string, unknown> | undefined;
  const routes: AdminRoute[] = [];
  routes.push(...openRoutes(services, health, () => (doc ??= buildOpenApiDocument(routes)), moreMetrics));
  routes.push(...appRoutes(services), ...tokenRoutes(services), ...keyRoutes(services), ...auditRoutes(services), ...appKeyRoutes(services), ...webhookRoutes(services));
  routes.push(...appEncryptionKeyRoutes(services), ...transitRoutes(services));
  routes.push(...certificateRoutes(services));
  routes.push(...userRoutes(services));
  doc = buildOpenApiDocument(routes);

  // a wrong method on an open path is 405 to anyone; under /v1/ only after the admin token
  // passed (the not-found handler runs after the plugin's onRequest hook): without it, every
  // /v1/ path, served or not, is the same 401
  const app = createHttpServer(services.logger, { bodyLimit: ADMIN_BODY_LIMIT }, { otherMethods: methodsOf(routes.filter((r) => !r.auth)) });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser());

  // Expect: 100-continue (RFC 9110 §10.1.1). Without a checkContinue listener Node sends
  // `100 Continue` itself before any hook ran, inviting a client without the admin token to
  // upload its body. It is sent here once the onRequest checks (host, stopping, admin token)
  // passed and the announced body fits the route; a request refused before that gets its
  // final answer instead, with Connection: close, since the body it may still send cannot
  // be told from a next request.
  const awaitingContinue = new WeakSet<IncomingMessage>();
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.add(req);
    app.server.emit('request', req, res);
  });
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (awaitingContinue.has(request.raw) && !reply.raw.headersSent && !tooLarge(request)) {
      awaitingContinue.delete(request.raw);
      reply.raw.writeContinue();
    }
    done(null, payload);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (awaitingContinue.delete(request.raw) && !request.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });

  // DNS rebinding: every route, the open ones first, answers only the names it is called by.
  const checkHost = adminHostCheck([...services.config.admin.allowedHosts, services.config.listen.admin]);
  app.addHook('onRequest', rawRequestCheck(checkHost));

  const tokenFile = typeof adminToken === 'string' ? undefined : adminToken;
  const isAdmin = tokenFile === undefined ? adminTokenChecker(adminToken as string) : (authorization: string | undefined) => tokenFile.accepts(authorization);
  // a replaced token file revokes the old token within one interval (admin-token-file.ts)
  const tokenCheck = tokenFile && setInterval(() => tokenFile.check(), tokenFile.checkIntervalMs);
  tokenCheck?.unref();
  const failures = new AdminAuthFailures(services.audit, services.clock, services.config.admin.failedAuth);
  const sweep = setInterval(() => failures.sweep(), Math.max(250, Math.floor(failures.limits.window / 4)));
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(tokenCheck);
    clearInterval(sweep);
    failures.closeAll();
  });
  // A callback hook, not an async one: it runs on every admin call (transit operations
  // included), and Cache-Control is set here rather than in an onSend hook of its own.
  const authenticate = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    reply.header('cache-control', 'no-store');
    // the right token always passes (one SHA-256 and a constant-time compare): a process that
    // keeps failing from the administrator's own address must not lock the administrator out
    if (isAdmin(request.headers.authorization)) return done();
    const wait = failures.retryAfter(request.socket.remoteAddress);
    if (wait > 0) {
      const throttled = problem(new PortcullisError('admin.throttled', 'too many requests without a valid admin token from this address: wait and retry', { details: { retryAfterMs: wait * 1000 } }));
      throttled.headers['retry-after'] = String(wait);
      return void sendWire(reply, throttled);
    }
    const presented = request.headers.authorization !== undefined;
    failures.failed(request.socket.remoteAddress, { method: request.method, route: request.routeOptions.url ?? null, credential: presented ? 'invalid' : 'missing' });
    const wire = problem(new PortcullisError('admin.unauthorized', presented ? 'the admin token is not valid' : 'this endpoint needs Authorization: Bearer <admin token>'));
    // RFC 6750 §3: a request without credentials gets no error code; a wrong one gets invalid_token.
    wire.headers['www-authenticate'] = presented ? `Bearer realm="${ADMIN_REALM}", error="invalid_token"` : `Bearer realm="${ADMIN_REALM}"`;
    void sendWire(reply, wire);
  };

  for (const r of routes.filter((x) => !x.auth)) register(app, services, r, '');
  void app.register(
    async (v1) => {
      v1.addHook('onRequest', authenticate);
      for (const r of routes.filter((x) => x.auth)) {
        if (!r.path.startsWith(`${V1}/`)) throw new Error(`admin route ${r.path} needs auth but is outside ${V1}/`);
        register(v1, services, r, V1);
      }
      v1.setNotFoundHandler(notFoundHandler(methodsOf(routes.filter((r) => r.auth))));
    },
    { prefix: V1 },
  );
  return app;
}
