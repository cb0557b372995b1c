/**
 * The gateway plane's request path, mounted on a plain `node:http`/`node:https` server:
 *
 *   request target normalised → route matched → body size → policy steps (token) → proxy
 *
 * Every denial is answered on the wire (errors.ts), counted, and audited as
 * `gateway.denied`; allowed requests are counted, timed and sampled into the audit
 * trail. Upstream failures are counted and logged per request, and audited per route
 * as `upstream.unavailable` / `upstream.recovered` (upstream-health.ts), not once per
 * request. Nothing on this path touches a database.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import type { Config, RouteConfig } from '../core/config/schema.js';
import { PortcullisError, toPortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { VerificationKeys } from '../crypto/verification-keys.js';
import type { RevocationSet } from '../tokens/revocation-set.js';
import { checkAssurance, type AssuranceRequirement } from './assurance-policy.js';
import { bodyArriving, expectContinue, readBody, sendContinue } from './body.js';
import type { GatewayGate } from './gate.js';
import { runSteps, type PolicyStep, type RequestContext } from './context.js';
import { rawErrorResponse, writeError } from './errors.js';
import { forwardedField, proxyForwarding } from './forwarded.js';
import { scanRequestHeaders } from './headers.js';
import { createGatewayMetrics, type RouteMetrics } from './metrics.js';
import { forward } from './proxy.js';
import { afterMatched, isValidHost, parseRequestTarget } from './request-target.js';
import { compileRoute, RouteTable, type CompiledRoute } from './route-table.js';
import { TokenVerifier, type TokenPolicy } from './token-policy.js';
import { proxyList, trustsPeer } from './trusted-proxies.js';
import { UpstreamHealth } from './upstream-health.js';
import { UpstreamPools, type UpstreamPool } from './upstream-pool.js';

export type { PolicyStep, RequestContext } from './context.js';

export interface GatewayDeps {
  routes: readonly RouteConfig[];
  gateway: Config['gateway'];
  /** This Portcullis's own `iss`. */
  issuer: string;
  keys: VerificationKeys;
  revocations: RevocationSet;
  audit: AuditSink;
  clock: Clock;
  leewayMs: number;
  /** `tokens.maxTokenLifetime`: the longest `exp - iat` accepted for this Portcullis's own tokens. */
  maxTokenLifetimeMs: number;
  logger: Logger;
  metrics?: Registry;
  /** Source of randomness for audit sampling (tests pass a fixed one). */
  random?: () => number;
  /**
   * Further policy steps of a route, run after the token step (which sets `ctx.token`),
   * e.g. step-up assurance or RFC 9421 signatures. Called once per route at compile time.
   */
  steps?: (route: RouteConfig) => PolicyStep[];
  /**
   * Policy steps of a route that run before the token step: what the connection itself
   * proves (the client certificate of mutual TLS), first on the request path as
   * ARCHITECTURE.md orders it. A client that left out its certificate is told so
   * (`cert.missing`), not that its certificate-bound token does not match.
   */
  connectionSteps?: (route: RouteConfig) => PolicyStep[];
  /** While closed, every request is refused with `gateway.not-in-sync` (the gateway thread's; gate.ts). */
  gate?: GatewayGate;
}

export interface Gateway {
  /** The `request` listener. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The `checkContinue` listener: `100 Continue` is sent only once the checks that need no body have passed. */
  checkContinue(req: IncomingMessage, res: ServerResponse): void;
  /** The `checkExpectation` listener: any `Expect` but `100-continue` is answered 417 `request.expectation-failed`. */
  checkExpectation(req: IncomingMessage, res: ServerResponse): void;
  /** The `clientError` listener: 431 for oversized headers, 400/408 otherwise, as problem+json; the connection is only closed when a response is in progress on it. */
  clientError(err: Error & { code?: string }, socket: Duplex): void;
  /** Replaces the route table (config reload); in-flight requests finish on the old one and its upstreams, whose pools close after them (upstream-pool.ts). */
  setRoutes(routes: readonly RouteConfig[]): void;
  close(): Promise<void>;
  /** The verifier (and its cache), for the admin plane and tests. */
  readonly tokens: TokenVerifier;
}

interface GatewayRoute extends CompiledRoute {
  readonly steps: readonly PolicyStep[];
  readonly metrics: RouteMetrics;
  /** Availability of the route's upstream, for the audit trail. */
  readonly health: UpstreamHealth;
  /** The upstream's pool, held by each request from match to end (proxy.ts). */
  readonly upstream: UpstreamPool;
  readonly maxBodySize: number;
  readonly timeoutMs: number;
  readonly stripPrefix: boolean;
  readonly tokenPolicy: TokenPolicy | undefined;
  /** Fields the route's signature must cover (lower-case): a Connection option may not name them. */
  readonly covered: ReadonlySet<string> | undefined;
}

const NO_ROUTE = '(none)';

/**
 * The longest path an audit event holds as it is. The path is the client's, and
 * `gateway.maxHeaderSize` lets it run up to 1 MiB: every denied request would store that.
 */
const MAX_AUDITED_PATH = 1024;

/** `path` for an audit event: as it is, or its first MAX_AUDITED_PATH characters and its length (`pathLength`). */
function auditedPath(path: string): { path: string; pathLength?: number } {
  return path.length <= MAX_AUDITED_PATH ? { path } : { path: path.slice(0, MAX_AUDITED_PATH), pathLength: path.length };
}

/** The context of a request that matched a route. */
interface GatewayContext extends RequestContext {
  /** Whether the request still holds its route's upstream (released once, when it ends: `release`). */
  held: boolean;
}

/** The request has ended: its route's upstream may close, if a reload retired it. */
function release(ctx: GatewayContext): void {
  if (!ctx.held) return;
  ctx.held = false;
  (ctx.route as GatewayRoute).upstream.release();
}

/** The field names among RFC 9421 component identifiers (`x-tenant`, `"x-tenant";sf`), lower-case; undefined when none. */
function coveredFields(components: readonly string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (const c of components) {
    const name = c.split(';')[0]!.replaceAll('"', '').trim().toLowerCase();
    if (name !== '' && !name.startsWith('@')) (out ??= new Set()).add(name);
  }
  return out;
}

/** Refuses a Connection option that names a field a verified signature or the route covers (RFC 9110 §7.6.1 would remove it). */
function checkConnectionNamed(named: ReadonlySet<string>, route: GatewayRoute, ctx: RequestContext | undefined): void {
  const refuse = (): never => {
    throw new PortcullisError('request.malformed', 'the Connection header names a field the request signature covers');
  };
  if (route.covered !== undefined) for (const n of named) if (route.covered.has(n)) refuse();
  const components = ctx?.signature?.components;
  if (components !== undefined) for (const c of components) if (c.charCodeAt(1) !== 64 /* @ */ && named.has(c.slice(1, c.indexOf('"', 1)))) refuse();
}

/**
 * Writes a denial whose request body had not all arrived when it was decided, once the
 * bytes that came with the head are parsed (a denial decided in the request listener runs
 * before them): `Connection: close` and the connection ends with the answer when the body
 * is still incomplete, so a client trickling it cannot hold the connection until
 * requestTimeout after its refusal; kept alive when it had all come. RFC 9110 §10.1.1: "A
 * server that responds with a final status code before reading the entire request content
 * SHOULD indicate whether it intends to close the connection".
 */
function answerRefused(req: IncomingMessage, res: ServerResponse, err: PortcullisError): void {
  writeError(res, err, !req.complete);
}

/** A field name as CGI, WSGI and Rack read it: lower-case, `_` as `-`. */
function cgiName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/**
 * Refuses a forwarded field that an upstream reading `_` as `-` would take for a field the
 * verified signature covers, spelled otherwise (`X_Tenant` beside a signed `X-Tenant`, or
 * `X-Tenant` beside a signed `x_tenant`): to that upstream the unsigned line is the signed field.
 */
function checkAliases(forward: readonly string[], components: readonly string[]): void {
  for (const c of components) {
    if (c.charCodeAt(1) === 64 /* @ */) continue;
    const name = c.slice(1, c.indexOf('"', 1));
    const read = cgiName(name);
    for (let i = 0; i < forward.length; i += 2) {
      const n = forward[i]!;
      if (n.length === name.length && n.toLowerCase() !== name && cgiName(n) === read) {
        throw new PortcullisError('request.malformed', `a field named ${JSON.stringify(n)} reads as the signed field ${JSON.stringify(name)} to CGI-style upstreams, and it is not signed`);
      }
    }
  }
}

/** Whether a signed field name (a serialized component identifier) has `_`. */
function underscoreCovered(components: readonly string[]): boolean {
  for (const c of components) if (c.charCodeAt(1) !== 64 /* @ */ && c.indexOf('_') > 0 && c.indexOf('_') < c.indexOf('"', 1)) return true;
  return false;
}

/**
 * A body announced by Content-Length up to this size is read whole before it is
 * forwarded, and sent with the request head in one write. Streaming it instead (the
 * request piped into undici) cost ~15 µs more CPU per 1 KiB POST in the bench (52–55
 * against 36–39 µs/req): a stream's events and ticks cost more than the copy. Larger or
 * chunked bodies stream, with backpressure.
 */
export const BUFFERED_BODY_LIMIT = 64 * 1024;

/**
 * `http.createServer` options for the gateway listener.
 * Register `gw.clientError`, `gw.checkContinue` and `gw.checkExpectation` too (`attachGateway`).
 * @example const server = http.createServer(gatewayServerOptions(config.gateway), gw.handle); attachGateway(server, gw)
 */
export function gatewayServerOptions(cfg: Config['gateway']): ServerOptions {
  return {
    maxHeaderSize: cfg.maxHeaderSize,
    requestTimeout: cfg.requestTimeout,
    // Node requires headersTimeout <= requestTimeout
    headersTimeout: Math.min(cfg.requestTimeout, 30_000),
    keepAlive: true,
    // longer than the 60 s idle timeout of common load balancers, so they close first
    keepAliveTimeout: 65_000,
    connectionsCheckingInterval: 5_000,
    noDelay: true,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
  };
}

/**
 * Registers the gateway's listeners for what Node would otherwise answer itself: parse
 * errors (`clientError`) and `Expect` (`checkContinue`, `checkExpectation`).
 * @example attachGateway(http.createServer(gatewayServerOptions(cfg.gateway), gw.handle), gw)
 */
export function attachGateway(server: Server, gw: Gateway): void {
  server.on('clientError', gw.clientError);
  server.on('checkContinue', gw.checkContinue);
  server.on('checkExpectation', gw.checkExpectation);
}

/**
 * Builds the gateway request path.
 * @example
 * const gw = createGateway({ routes: cfg.routes, gateway: cfg.gateway, issuer: cfg.issuer, keys, revocations, audit, clock, leewayMs: cfg.tokens.leeway, maxTokenLifetimeMs: cfg.tokens.maxTokenLifetime, logger });
 * attachGateway(http.createServer(gatewayServerOptions(cfg.gateway), gw.handle), gw);
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const { audit, clock, logger } = deps;
  const random = deps.random ?? Math.random;
  const sampleRate = deps.gateway.auditSampleRate;
  const metrics = createGatewayMetrics(deps.metrics);
  const noRouteMetrics = metrics.forRoute(NO_ROUTE);
  const pools = new UpstreamPools({ connections: deps.gateway.connectionsPerUpstream });
  const trustedProxies = proxyList(deps.gateway.trustedProxies);
  /** By route name and upstream origin: kept across a route reload, so an outage is not reported twice. */
  const healths = new Map<string, UpstreamHealth>();
  const healthKey = (name: string, origin: string): string => `${name}\n${origin}`;
  function healthFor(name: string, origin: string): UpstreamHealth {
    const key = healthKey(name, origin);
    let h = healths.get(key);
    if (h === undefined) healths.set(key, (h = new UpstreamHealth(name, origin, audit, clock)));
    return h;
  }
  const tokens = new TokenVerifier({
    issuer: deps.issuer,
    keys: deps.keys,
    revocations: deps.revocations,
    clock,
    leewayMs: deps.leewayMs,
    maxTokenLifetimeMs: deps.maxTokenLifetimeMs,
    cacheSize: deps.gateway.tokenCacheSize,
    logger,
  });

  function tokenStep(policy: TokenPolicy): PolicyStep {
    return (ctx) => {
      const h = ctx.headers;
      const r = tokens.resolve(policy, h.authCount, h.authValue);
      if (r instanceof Promise) {
        return r.then((v) => {
          ctx.token = v;
          tokens.check(policy, v, ctx.req.socket);
        });
      }
      ctx.token = r;
      tokens.check(policy, r, ctx.req.socket);
      return undefined;
    };
  }

  function compile(config: RouteConfig): GatewayRoute {
    const base = compileRoute(config);
    const tokenPolicy = config.require.token === undefined ? undefined : tokens.compile(config.require.token);
    const steps: PolicyStep[] = deps.connectionSteps?.(config) ?? [];
    if (tokenPolicy !== undefined) steps.push(tokenStep(tokenPolicy));
    const r = config.require;
    if (tokenPolicy !== undefined && (r.mfa !== undefined || r.acr !== undefined || r.maxAge !== undefined)) {
      // RFC 9470 step-up, on the verified claims the token step put in the context
      const assurance: AssuranceRequirement = {};
      if (r.mfa !== undefined) assurance.mfa = r.mfa;
      if (r.acr !== undefined) assurance.acr = r.acr;
      if (r.maxAge !== undefined) assurance.maxAge = r.maxAge;
      steps.push((ctx) => checkAssurance(ctx.token!.claims, assurance, clock.now(), deps.leewayMs));
    }
    if (deps.steps !== undefined) steps.push(...deps.steps(config));
    return {
      ...base,
      steps,
      metrics: metrics.forRoute(config.name),
      health: healthFor(config.name, base.origin),
      upstream: pools.get(base.origin),
      maxBodySize: config.maxBodySize,
      timeoutMs: config.timeout,
      stripPrefix: config.stripPrefix,
      tokenPolicy,
      covered: coveredFields(config.require.signature?.components ?? []),
    };
  }

  let table = new RouteTable(deps.routes.map(compile));

  function actorOf(ctx: RequestContext | undefined): { actor: string; clientId: string | null } {
    const clientId = ctx?.token?.clientId;
    return clientId === undefined ? { actor: 'anonymous', clientId: null } : { actor: `client:${clientId}`, clientId };
  }

  function fail(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext | undefined, e: unknown): void {
    if (ctx !== undefined) release(ctx);
    const err = toPortcullisError(e);
    const route = ctx?.route as GatewayRoute | undefined;
    const upstream = err.code === 'upstream.unavailable' || err.code === 'upstream.timeout';
    if (err.code === 'internal') logger.error({ err: e, route: route?.name }, 'gateway request failed');
    else if (upstream) logger.warn({ code: err.code, route: route?.name, cause: String(err.cause) }, 'upstream failed');
    // the rest of the body is not read: the connection cannot carry another request
    const close = err.code === 'request.body-too-large' || err.code === 'request.timeout' || err.code === 'request.transfer-coding-unsupported' || err.code === 'request.expectation-failed';
    if (close || !bodyArriving(req, ctx)) writeError(res, err, close);
    // a body still arriving when the request is refused would be read to its end, or to
    // requestTimeout, by Node on a keep-alive answer: the answer closes instead (answerRefused)
    else setImmediate(answerRefused, req, res, err);
    (route?.metrics ?? noRouteMetrics).count(upstream ? 'upstream_error' : err.status >= 500 ? 'error' : 'denied');
    if (upstream) {
      route?.health.failure(err);
      return;
    }
    const { actor, clientId } = actorOf(ctx);
    audit.record({
      time: clock.now(),
      type: 'gateway.denied',
      actor,
      clientId,
      route: route?.name ?? null,
      reason: err.code,
      data: { method: req.method, ...(ctx === undefined ? { path: null } : auditedPath(ctx.path)), status: err.status, ip: req.socket.remoteAddress ?? null },
    });
  }

  function proxy(ctx: GatewayContext): void {
    const route = ctx.route as GatewayRoute;
    const { req, res, headers: h } = ctx;
    // (a body a step read was let in already; a streamed one is let in now)
    if (ctx.body === undefined) sendContinue(res);
    const out = h.forward;
    const ip = req.socket.remoteAddress ?? '';
    const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    // a client's own forwarding headers are claims about itself: kept only from a trusted proxy
    if (ctx.trustedPeer) {
      // RFC 9110 §7.6.1: a field the proxy named in Connection was for this hop only
      const hop = h.connectionNamed;
      const xff = hop?.has('x-forwarded-for') ? undefined : h.xForwardedFor;
      // the scheme and the host, alone: a proxy that appends to what its client sent leaves
      // the client's value first, where Express's req.protocol and req.hostname read it
      const stated = ctx.proxyForwarding;
      const scheme = stated?.scheme ?? proto;
      out.push('x-forwarded-for', xff === undefined ? ip : xff + ', ' + ip, 'x-forwarded-proto', scheme);
      if (h.host !== undefined) out.push('x-forwarded-host', h.host);
      // the hop list goes on; the host and scheme only in the gateway's own element, as above
      if (stated?.elements !== undefined) out.push('forwarded', forwardedField(stated.elements, ip, h.host, scheme));
      if (h.proxyStated !== undefined) out.push(...h.proxyStated);
    } else {
      out.push('x-forwarded-for', ip, 'x-forwarded-proto', proto);
      if (h.host !== undefined) out.push('x-forwarded-host', h.host);
    }
    const identity = ctx.token?.identityHeaders;
    if (identity !== undefined) for (let i = 0; i < identity.length; i++) out.push(identity[i]!);
    let path = ctx.path;
    if (route.stripPrefix) {
      // (the prefix was matched on the path without parameters)
      path = path.slice(ctx.matchPath === path ? route.stripLength : afterMatched(path, route.stripLength));
      if (path === '') path = '/';
      // a format suffix (`/svc.json`) stays on the name it was on: the base path, else `/`
      else if (path.charCodeAt(0) === 46 /* . */ && route.basePath === '') path = '/' + path;
    }
    forward(
      route.upstream,
      {
        req,
        res,
        path: route.basePath + path + ctx.query,
        method: ctx.method,
        headers: out,
        hasBody: h.contentLength !== undefined || h.transferEncoding,
        maxBodySize: route.maxBodySize,
        timeoutMs: route.timeoutMs,
        body: ctx.body,
        respond: ctx.respond,
      },
      (err, clientClosed) => {
        release(ctx);
        if (clientClosed === true) return route.metrics.count('client_closed');
        if (err !== undefined) return fail(req, res, ctx, err);
        if (route.health.attention) route.health.success();
        route.metrics.count('allowed');
        route.metrics.observe((performance.now() - ctx.start) / 1000);
        if (sampleRate > 0 && random() < sampleRate) {
          const { actor, clientId } = actorOf(ctx);
          audit.record({
            time: clock.now(),
            type: 'gateway.allowed',
            actor,
            clientId,
            route: route.name,
            reason: null,
            data: { method: ctx.method, ...auditedPath(ctx.path), status: res.statusCode },
          });
        }
      },
    );
  }

  /** Forwards the request, its body read first when it is small (BUFFERED_BODY_LIMIT). */
  function send(ctx: GatewayContext): void {
    const h = ctx.headers;
    const signed = ctx.signature?.components;
    if (signed !== undefined && (h.connectionNamed !== undefined || h.underscore || underscoreCovered(signed))) {
      try {
        if (h.connectionNamed !== undefined) checkConnectionNamed(h.connectionNamed, ctx.route as GatewayRoute, ctx);
        checkAliases(h.forward, signed);
      } catch (e) {
        fail(ctx.req, ctx.res, ctx, e);
        return;
      }
    }
    if (ctx.body === undefined && h.contentLength !== undefined && !h.transferEncoding && h.contentLength !== '0' && Number(h.contentLength) <= BUFFERED_BODY_LIMIT) {
      readBody(ctx, (ctx.route as GatewayRoute).maxBodySize).then(
        () => proxy(ctx),
        (e: unknown) => fail(ctx.req, ctx.res, ctx, e),
      );
      return;
    }
    proxy(ctx);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    let ctx: GatewayContext | undefined;
    try {
      deps.gate?.check();
      const target = parseRequestTarget(req.url ?? '');
      const headers = scanRequestHeaders(req.rawHeaders);
      // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
      // message that lacks a Host header field and to any request message that contains more than one Host
      // header field line or a Host header field with an invalid field value." (Node refuses a missing one.)
      if (headers.hostCount !== 0 && (headers.hostCount > 1 || !isValidHost(headers.host!))) throw new PortcullisError('request.malformed', 'invalid Host header');
      const method = req.method ?? 'GET';
      const route = table.match(headers.host, method, target.matchPath);
      if (route === undefined) throw new PortcullisError('route.not-found', 'no route matches this request');
      ctx = { req, res, route, method, path: target.path, matchPath: target.matchPath, query: target.query, headers, start, trustedPeer: trustsPeer(trustedProxies, req.socket.remoteAddress), token: undefined, body: undefined, respond: undefined, signature: undefined, held: true, proxyForwarding: undefined };
      route.upstream.hold();
      if (ctx.trustedPeer && (headers.xForwardedProto !== undefined || headers.forwarded !== undefined)) ctx.proxyForwarding = proxyForwarding(headers);
      if (headers.connectionNamed !== undefined) checkConnectionNamed(headers.connectionNamed, route, undefined);
      if (headers.contentLength !== undefined) {
        const n = Number(headers.contentLength);
        if (!Number.isSafeInteger(n) || n < 0 || headers.contentLengthCount > 1) throw new PortcullisError('request.malformed', 'invalid Content-Length');
        if (n > route.maxBodySize) throw new PortcullisError('request.body-too-large', `request body exceeds ${route.maxBodySize} bytes`);
      }
      const pending = runSteps(ctx, route.steps);
      if (pending === undefined) send(ctx);
      else {
        const c = ctx;
        pending.then(
          () => send(c),
          (e: unknown) => fail(req, res, c, e),
        );
      }
    } catch (e) {
      fail(req, res, ctx, e);
    }
  }

  function clientError(err: Error & { code?: string }, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const e =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new PortcullisError('request.headers-too-large', 'request headers exceed the limit')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new PortcullisError('request.timeout', 'request not received in time')
          : new PortcullisError('request.malformed', 'malformed HTTP request');
    noRouteMetrics.count('denied');
    audit.record({ time: clock.now(), type: 'gateway.denied', actor: 'anonymous', clientId: null, route: null, reason: e.code, data: { status: e.status, ip: (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? null } });
    // A response pending or under way on this socket (a pipelined request, a timeout while streaming):
    // bytes written now would land inside it, or answer a request the upstream still executes.
    if ((socket as Duplex & { _httpMessage?: unknown })._httpMessage != null) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(e));
  }

  return {
    handle,
    clientError,
    checkContinue(req: IncomingMessage, res: ServerResponse): void {
      expectContinue(res);
      handle(req, res);
    },
    checkExpectation(req: IncomingMessage, res: ServerResponse): void {
      fail(req, res, undefined, new PortcullisError('request.expectation-failed', 'only Expect: 100-continue is supported'));
    },
    tokens,
    setRoutes(routes: readonly RouteConfig[]): void {
      const next = new RouteTable(routes.map(compile));
      table = next;
      const kept = new Set(routes.map((r) => healthKey(r.name, new URL(r.upstream).origin)));
      for (const key of healths.keys()) if (!kept.has(key)) healths.delete(key);
      pools.retain(new Set(routes.map((r) => new URL(r.upstream).origin)));
    },
    close: () => pools.close(),
  };
}
