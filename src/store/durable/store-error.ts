/** How a driver failure reaches callers of the durable store. */
import { PortcullisError } from '../../core/errors.js';
import { SQLITE_NUL_IN_TEXT } from './sqlite-driver.js';

/** Driver codes for a text value no store can hold (PostgreSQL: NUL in text, in jsonb; SQLite: refused alike by the driver). */
const UNSTORABLE_TEXT = new Set(['22021', '22P05', SQLITE_NUL_IN_TEXT]);

/**
 * A driver failure as a PortcullisError: a value no store can hold is the request's
 * fault (`request.invalid`, the same on every adapter); anything else is
 * `store.unavailable` (fail closed; the cause is kept for the log).
 */
export function storeError(op: string, e: unknown): PortcullisError {
  if (e instanceof PortcullisError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNSTORABLE_TEXT.has(code)) return new PortcullisError('request.invalid', 'a text value contains a character that cannot be stored (NUL)', { cause: e });
  return new PortcullisError('store.unavailable', `durable store ${op} failed`, { cause: e });
}
