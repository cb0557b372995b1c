/**
 * Whether the durable store can take writes, for `/readyz`. A statement that fails for a
 * reason of the storage itself (the disk is full, the file or the database is read-only,
 * an I/O error, the connection is gone) marks the store not writable: `check()` then
 * throws `store.not-writable`, and a probe write runs every PROBE_INTERVAL_MS until one
 * succeeds, which clears the fault. So does, at once, any write acknowledged through the
 * store that was issued after the last fault was noted (`written`: it is the proof the
 * probe would give), and the store reached again after it was taken for down
 * (`reachable`, PostgreSQL's breaker closing) when every fault noted was a lost
 * connection; otherwise that runs the probe at once. While the store is healthy nothing
 * runs: no probe, no timer, and `check()` and `written()` are field reads, so `/readyz`
 * never writes.
 */
import { PortcullisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { SQLITE_FILE_REPLACED, SQLITE_SHM_REPLACED, SQLITE_WAL_REPLACED } from './sqlite-driver.js';

export const PROBE_INTERVAL_MS = 2000;

/**
 * SQLite: SQLITE_FULL (disk or quota full), SQLITE_IOERR_* (a read, write or fsync
 * failed), SQLITE_READONLY_* (read-only file, directory or connection), SQLITE_CANTOPEN_*;
 * and the driver's own SQLITE_FILE_REPLACED, SQLITE_WAL_REPLACED and SQLITE_SHM_REPLACED
 * (the file, its -wal or its -shm deleted or replaced under the node: the probe fails until the path names the open file
 * again, in practice until a restart).
 */
const SQLITE_IO = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)(_[A-Z_]+)?$/;

/**
 * PostgreSQL: read_only_sql_transaction (a standby, `default_transaction_read_only`),
 * disk_full, the server shutting down, crashed or not yet accepting connections; with
 * classes 08 (connection exception) and 58 (system error: io_error…) below. And the
 * socket errors of a connection never made or lost.
 */
const PG_IO = new Set(['25006', '53100', '57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The driver code of a failure that says the storage cannot take writes, looked up on
 * `e` and its causes; undefined for any other failure (a constraint, a bad value, a lock
 * wait, a statement timeout: the store is fine, the statement was not).
 *
 * @example
 * storageFault(new PortcullisError('store.unavailable', 'durable store createApp failed', { cause: sqliteFullError })); // 'SQLITE_FULL'
 */
/** Faults of a connection lost or never made, not of the storage: the store reached again clears them. */
const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

const connectionLost = (code: string): boolean => CONNECTION_LOST.has(code) || /^08[0-9A-Z]{3}$/.test(code);

export function storageFault(e: unknown): string | undefined {
  for (let c = e, depth = 0; c !== null && typeof c === 'object' && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (SQLITE_IO.test(code) || code === SQLITE_FILE_REPLACED || code === SQLITE_WAL_REPLACED || code === SQLITE_SHM_REPLACED || PG_IO.has(code) || /^(08|58)[0-9A-Z]{3}$/.test(code)) return code;
  }
  return undefined;
}

export class WriteFaults {
  private fault: string | undefined;
  /** Faults noted so far: a probe clears only when none came while it ran. */
  private faults = 0;
  /** When the last fault was noted (`performance.now()`): a write issued before it proves nothing. */
  private lastFaultAt = -Infinity;
  /** Every fault noted since the store was last writable was a lost connection. */
  private connectionOnly = true;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private readonly listeners = new Set<(fault: PortcullisError | undefined) => void>();

  constructor(private readonly o: { probe(): Promise<void>; logger?: Logger | undefined; intervalMs?: number }) {}

  /** Notes a failed statement; only a storage fault (`storageFault`) counts. */
  note(e: unknown): void {
    const code = storageFault(e);
    if (code === undefined || this.stopped) return;
    this.faults++;
    this.lastFaultAt = performance.now();
    if (!connectionLost(code)) this.connectionOnly = false;
    const was = this.fault;
    this.fault = code;
    if (was === undefined) {
      if (code === SQLITE_FILE_REPLACED) this.o.logger?.error({ code }, 'the SQLite database file was removed or replaced while the node ran: writes are refused and /readyz answers 503 store.not-writable; restart the node on the right file');
      else if (code === SQLITE_WAL_REPLACED || code === SQLITE_SHM_REPLACED) this.o.logger?.error({ code }, `the SQLite ${code === SQLITE_WAL_REPLACED ? '-wal' : '-shm'} file was removed or replaced while the node ran: writes are refused and /readyz answers 503 store.not-writable; stop the node cleanly (not kill -9: closing writes the open -wal into the database file) and start it again`);
      else this.o.logger?.error({ code }, 'the durable store cannot take writes; /readyz answers 503 store.not-writable until a probe write succeeds');
      this.emit();
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.probe(), this.o.intervalMs ?? PROBE_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** The fault as the error `/readyz` answers, or undefined while writes succeed. */
  get error(): PortcullisError | undefined {
    if (this.fault === undefined) return undefined;
    return new PortcullisError('store.not-writable', `the durable store cannot take writes (${this.fault}); a probe write is tried every ${Math.round((this.o.intervalMs ?? PROBE_INTERVAL_MS) / 1000)} s`, { expose: true, details: { reason: this.fault } });
  }

  /**
   * Throws `store.not-writable` while a storage fault is not cleared.
   *
   * @example
   * faults.check(); // in the readiness check, before the round trip
   */
  check(): void {
    const e = this.error;
    if (e !== undefined) throw e;
  }

  /**
   * A write issued at `issuedAt` (`performance.now()`) was acknowledged: the store takes
   * writes, unless a fault was noted after the write was issued.
   *
   * @example
   * const at = performance.now(); await write(); faults.written(at);
   */
  written(issuedAt: number): void {
    if (this.fault === undefined || this.stopped || issuedAt <= this.lastFaultAt) return;
    this.clear('a write succeeded');
  }

  /**
   * The store is reached again after it was taken for down: a fault that was only a lost
   * connection is cleared at once; another (read-only, disk full) is probed at once.
   */
  reachable(): void {
    if (this.fault === undefined || this.stopped) return;
    if (this.connectionOnly) this.clear('the store is reached again');
    else void this.probe();
  }

  /** Calls `fn` on every change: the fault (`store.not-writable`), or undefined once cleared. */
  onChange(fn: (fault: PortcullisError | undefined) => void): void {
    this.listeners.add(fn);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    if (this.probing || this.fault === undefined || this.stopped) return;
    this.probing = true;
    const seen = this.faults;
    try {
      await this.o.probe();
      if (seen !== this.faults || this.fault === undefined) return;
      this.clear('a probe write succeeded');
    } catch (e) {
      // a storage fault was noted by the probe's own statement; anything else (a lock wait) proves nothing either way
      if (storageFault(e) === undefined) this.o.logger?.warn({ err: e }, 'the durable store write probe failed; trying again');
    } finally {
      this.probing = false;
    }
  }

  private clear(why: string): void {
    this.o.logger?.info({ code: this.fault, why }, 'the durable store takes writes again; /readyz is ready');
    this.fault = undefined;
    this.connectionOnly = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.emit();
  }

  private emit(): void {
    const e = this.error;
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
