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

/**
 * `advance` compares and stores integers (Lua numbers in Redis are doubles: exact up to
 * 2^53 - 1), and the value it stores is never below the one it compared.
 */
export function positions(next: number, to: number): [number, number] {
  if (!Number.isSafeInteger(next) || !Number.isSafeInteger(to)) throw new PortcullisError('internal', 'ephemeral store: advance takes safe integers');
  if (to < next) throw new PortcullisError('internal', 'ephemeral store: advance would store a value below the one it compared');
  return [next, to];
}

/** A window cap counts whole events. */
export function windowLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new PortcullisError('internal', 'ephemeral store: a window limit must be a positive integer');
  return limit;
}
