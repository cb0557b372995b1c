/**
 * The request context every policy step reads and adds facts to. A step has one
 * signature: it returns (synchronously, or a Promise when it must wait) or throws a
 * PortcullisError that denies the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyForwarding } from './forwarded.js';
import type { ScannedRequest } from './headers.js';
import type { ResponseHook } from './proxy.js';
import type { RequestSignature } from './signature-policy.js';
import type { CompiledRoute } from './route-table.js';
import type { VerifiedToken } from './token-cache.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: CompiledRoute;
  readonly method: string;
  /** Normalised path (request-target.ts), without the query. */
  readonly path: string;
  /** `path` without path parameters (request-target.ts), what the route was matched on. */
  readonly matchPath: string;
  /** Query with its `?`, or ''. */
  readonly query: string;
  readonly headers: ScannedRequest;
  /** `performance.now()` when the request arrived. */
  readonly start: number;
  /** Whether the direct peer is listed in `gateway.trustedProxies`: only then are its forwarding headers believed. */
  readonly trustedPeer: boolean;
  /**
   * What a trusted proxy stated in X-Forwarded-Proto and Forwarded (forwarded.ts
   * `proxyForwarding`), checked on arrival, before any step; undefined from any other peer
   * and when it sent neither.
   */
  proxyForwarding: ProxyForwarding | undefined;
  /** Set by the token step. */
  token: VerifiedToken | undefined;
  /**
   * The whole request body once a step has read it (body.ts `readBody`), possibly
   * replaced (`replaceBody`); the proxy then sends it instead of streaming the request.
   */
  body: Buffer | undefined;
  /** Set by a step that must see the whole upstream response (signing, encryption); the proxy then buffers it. */
  respond: ResponseHook | undefined;
  /** The request signature the `require.signature` step verified (signature-policy.ts). */
  signature: RequestSignature | undefined;
}

export type PolicyStep = (ctx: RequestContext) => void | Promise<void>;

/**
 * Runs steps in order; returns undefined when all finished synchronously, else a
 * Promise for the rest.
 */
export function runSteps(ctx: RequestContext, steps: readonly PolicyStep[], from = 0): void | Promise<void> {
  for (let i = from; i < steps.length; i++) {
    const r = steps[i]!(ctx);
    if (r !== undefined) return r.then(() => runSteps(ctx, steps, i + 1));
  }
  return undefined;
}
