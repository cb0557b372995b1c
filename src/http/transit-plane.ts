/**
 * Transit for apps, on the identity plane: `POST /transit/v1/<op>/<name>` with an
 * access token of this issuer (RFC 9068 JWT, RFC 6750 bearer) whose `aud` includes
 * `portcullis-transit` and whose scopes include `transit:<op>:<name>`.
 *
 * The token is verified locally by the gateway's TokenVerifier (no introspection, no
 * database): signature against the key ring, `typ: at+jwt`, exp/nbf/iat with leeway,
 * audience, the RFC 8705 certificate binding (`cnf.x5t#S256` against this connection's
 * client certificate), and the in-memory revocation set (per token, per app, disabled apps), with
 * the same verified-token cache and the same precise `token.*` codes and RFC 6750
 * `WWW-Authenticate` challenges the gateway answers, before the body is read. Every call
 * and every denial is audited (`transit.<op>`, `transit.denied`), never with data: a call
 * whose body is refused before the operation (not JSON, a duplicate key, a charset other
 * than UTF-8, another media type, over the limit) too, as `transit.<op>` with the reason.
 * Only a caller whose token passed gets its body read, so only such a caller can cause
 * that event: one without a token is the one `transit.denied` of its request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../app.js';
import { PortcullisError, toPortcullisError } from '../core/errors.js';
import { wwwAuthenticate } from '../gateway/errors.js';
import { TokenVerifier } from '../gateway/token-policy.js';
import { validate } from './admin/route.js';
import { jsonBodyParser } from './json-body.js';
import { sendWire, toTyped } from './server.js';
import { auditedTransitOp, recordTransitFailure, TRANSIT_AUDIENCE, TRANSIT_OPS, TRANSIT_REQUEST, transitScope, type TransitCaller, type TransitOp } from './transit-ops.js';
import { problem } from './wire-errors.js';

export const TRANSIT_PLANE_PREFIX = '/transit/v1';
const BODY_LIMIT = 4 * 1024 * 1024;

function authorizationCount(req: FastifyRequest): number {
  const raw = req.raw.rawHeaders;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') n++;
  return n;
}

/**
 * Adds the transit operations to an identity plane (before `ready()`), in a plugin
 * context of its own that parses JSON bodies (the identity plane itself takes forms only).
 *
 * @example
 * const identity = buildIdentityPlane(deps);
 * registerTransitPlane(identity, services);
 * // curl -H "authorization: Bearer $AT" -d '{"plaintext":"aGk="}' $ISSUER/transit/v1/encrypt/orders-db
 */
export function registerTransitPlane(app: FastifyInstance, s: Services, verifier?: TokenVerifier): void {
  const tokens =
    verifier ??
    new TokenVerifier({
      issuer: s.config.issuer,
      keys: s.keys,
      revocations: s.revocations,
      clock: s.clock,
      leewayMs: s.config.tokens.leeway,
      maxTokenLifetimeMs: s.config.tokens.maxTokenLifetime,
      cacheSize: s.config.gateway.tokenCacheSize,
      logger: s.logger,
    });
  const policy = tokens.compile({ audience: TRANSIT_AUDIENCE, scopes: [], issuers: ['self'] });
  const now = () => s.clock.now();
  const callerOf = (clientId: string | undefined): TransitCaller => ({ actor: `client:${clientId}`, ...(clientId ? { clientId } : {}) });

  const deny = (reply: FastifyReply, err: PortcullisError, op: TransitOp, name: string, clientId: string | undefined) => {
    s.audit.record({ time: s.clock.now(), type: 'transit.denied', actor: clientId ? `client:${clientId}` : 'anonymous', clientId: clientId ?? null, reason: err.code, data: { op, key: name } });
    const wire = problem(err);
    const challenge = wwwAuthenticate(err);
    if (challenge !== undefined) wire.headers['www-authenticate'] = challenge;
    if (err.code === 'token.insufficient-scope') wire.body.scope = err.details?.['scope'];
    return sendWire(reply, wire);
  };

  void app.register(async (sub) => {
    sub.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, jsonBodyParser());
    // set before the handler, so denials and errors carry it too, without an async onSend hook per call
    sub.addHook('onRequest', (_req, reply, done) => {
      reply.header('cache-control', 'no-store');
      done();
    });
    /** The app each authorized request was made by, from its onRequest check to its handler (`handled`: the handler ran, and audits what it does). */
    const callers = new WeakMap<FastifyRequest, { clientId: string | undefined; handled?: boolean }>();
    for (const op of TRANSIT_OPS) {
      sub.post(
        `${TRANSIT_PLANE_PREFIX}/${op}/:name`,
        {
          bodyLimit: BODY_LIMIT,
          // the token and its scope are checked before the body is read: a caller without them
          // is denied (401/403, audited) without the plane buffering and parsing up to 4 MiB for it
          onRequest: async (req, reply) => {
            const name = (req.params as { name: string }).name;
            let clientId: string | undefined;
            try {
              const v = await tokens.resolve(policy, authorizationCount(req), req.headers.authorization);
              clientId = v.clientId;
              tokens.check(policy, v, req.raw.socket);
              const scope = transitScope(op, name);
              if (!v.scopes.has(scope)) throw new PortcullisError('token.insufficient-scope', `the token lacks scope ${scope}`, { details: { scope } });
            } catch (e) {
              const err = toPortcullisError(e);
              if (err.status >= 500) throw err;
              return deny(reply, err, op, name, clientId);
            }
            callers.set(req, { clientId });
            return undefined;
          },
          // An authorized call refused between the token check and the handler: its body by the
          // JSON parser or the body limit (400/413/415). Audited as the call it was, with the
          // reason only, never the body; an unauthorized request never gets here (denied above).
          onError: (req, _reply, err, done) => {
            const caller = callers.get(req);
            if (caller !== undefined && caller.handled !== true) recordTransitFailure(s.audit, now, callerOf(caller.clientId), op, (req.params as { name: string }).name, toTyped(err));
            done();
          },
        },
        async (req, reply) => {
          const name = (req.params as { name: string }).name;
          const caller = callers.get(req);
          // fail closed: a request reaches the operation only through the check above
          if (caller === undefined) throw new PortcullisError('internal', 'transit request without its token check');
          caller.handled = true;
          const who = callerOf(caller.clientId);
          let body: unknown;
          try {
            body = validate(TRANSIT_REQUEST[op], req.body ?? undefined, 'body');
          } catch (e) {
            // audited as the call it was, like a call that fails inside the operation
            recordTransitFailure(s.audit, now, who, op, name, toPortcullisError(e));
            throw e;
          }
          return reply.send(await auditedTransitOp(s.transit, s.audit, now, who, op, name, body));
        },
      );
    }
  });
}
