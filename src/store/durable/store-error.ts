/** How a driver failure reaches callers of the durable store. */
import { PortcullisError } from '../../core/errors.js';
import { SQLITE_FILE_REPLACED, SQLITE_NUL_IN_TEXT, SQLITE_SHM_REPLACED, SQLITE_SHM_REPLACED_MESSAGE, SQLITE_WAL_REPLACED, SQLITE_WAL_REPLACED_MESSAGE } from './sqlite-driver.js';

/** Driver codes for a text value no store can hold (PostgreSQL: NUL in text, in jsonb; SQLite: refused alike by the driver). */
const UNSTORABLE_TEXT = new Set(['22021', '22P05', SQLITE_NUL_IN_TEXT]);

/**
 * Driver codes for a store that cannot take any statement now, whatever its values: a lock
 * not granted in time (PostgreSQL lock_not_available; SQLite's write lock held past
 * SQLITE_BUSY_TIMEOUT_MS), a statement cancelled (statement_timeout), a server shutting
 * down or refusing connections, a connection lost or never made.
 */
const STORE_WIDE = new Set([
  '55P03', '57014', '57P01', '57P02', '57P03', '53300',
  'SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY',
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
]);

function storeWide(code: string): boolean {
  // SQLSTATE class 08: connection exception
  return STORE_WIDE.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}

/**
 * A driver failure as a PortcullisError: a value no store can hold is the request's
 * fault (`request.invalid`, the same on every adapter); anything else is
 * `store.unavailable` (fail closed; the cause is kept for the log). When the failure is
 * the store's as a whole (a lock wait or statement timed out, no connection) it carries
 * `details.retryable: true`: no value of the statement is at fault, the same statement
 * may pass later (the audit trail then holds its events at once instead of trying them
 * one by one). A SQLite file, -wal or -shm deleted or replaced under the node says so
 * (exposed: it names no path).
 */
export function storeError(op: string, e: unknown): PortcullisError {
  if (e instanceof PortcullisError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNSTORABLE_TEXT.has(code)) return new PortcullisError('request.invalid', 'a text value contains a character that cannot be stored (NUL)', { cause: e });
  // names no path and no value: the operator needs it, and no retry will help
  if (code === SQLITE_FILE_REPLACED) return new PortcullisError('store.unavailable', 'the database file was removed or replaced; restart the node on the right file', { cause: e, expose: true });
  if (code === SQLITE_WAL_REPLACED) return new PortcullisError('store.unavailable', SQLITE_WAL_REPLACED_MESSAGE, { cause: e, expose: true });
  if (code === SQLITE_SHM_REPLACED) return new PortcullisError('store.unavailable', SQLITE_SHM_REPLACED_MESSAGE, { cause: e, expose: true });
  const retryable = typeof code === 'string' && storeWide(code);
  return new PortcullisError('store.unavailable', `durable store ${op} failed`, { cause: e, ...(retryable ? { details: { retryable: true } } : {}) });
}
