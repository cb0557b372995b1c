/** Argument checks shared by the ephemeral adapters, so both refuse the same inputs. */
import { PortcullisError } from '../core/errors.js';

/** A TTL is a positive number of milliseconds; fractions round up (Redis PX takes integers). */
export function ttlMillis(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new PortcullisError('internal', 'ephemeral store: ttlMs must be a positive number');
  return Math.ceil(ttlMs);
}

/** Counters move by whole steps (Redis INCRBY takes integers). */
export function step(by: number): number {
  if (!Number.isSafeInteger(by)) throw new PortcullisError('internal', 'ephemeral store: increment step must be an integer');
  return by;
}
