/**
 * `/readyz` on the identity and admin planes: ready, or 503 with an RFC 9457
 * problem+json body whose `code` names the failed check (`store.not-writable`,
 * `store.unavailable`, `gateway.not-in-sync`, `unavailable`…). The checks only read
 * state or make a round trip; none writes.
 */
import { PortcullisError } from '../core/errors.js';
import { problem, type WireError } from './wire-errors.js';

/**
 * The answer to a failed readiness check: always 503, the check's code, its message
 * only when the error says it may be shown.
 *
 * @example
 * try { await health.ready(); } catch (e) { return sendWire(reply, notReady(e)); }
 */
export function notReady(e: unknown): WireError {
  const err =
    e instanceof PortcullisError
      ? new PortcullisError(e.code, e.message, { status: 503, expose: e.expose, ...(e.details !== undefined ? { details: e.details } : {}) })
      : new PortcullisError('unavailable', 'a readiness check failed');
  return problem(err);
}
