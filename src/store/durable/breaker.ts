/**
 * A circuit breaker for a store reached over the network (PostgreSQL, postgres.ts). A
 * connect that failed or timed out, or a statement whose answer never came, `trip`s it:
 * the store is taken for down, and `check()` refuses every statement at once with
 * `store.unavailable` (retryable, with `retryAfterMs` for `Retry-After`) instead of
 * letting each wait out the connect timeout, or queue for the pool behind those that
 * do. While it is open one probe runs at a time, the first at once and the next
 * `intervalMs` after the last ended; the first that passes closes it. A failure that only a
 * fixed setting ends (`classify` says `persistent`: a password refused, a database that
 * does not exist) doubles that pause each time, up to `maxIntervalMs`, so a node does not
 * try a failing login twice a second for ever. The refusal, the log and `/readyz` name the
 * latest cause (`reason`). While it is closed nothing runs: no probe, no timer, and
 * `check()` is a field read. `close()` stops the probes for good and leaves no timer.
 */
import { PortcullisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/** Pause between two probes while the store is down. */
export const BREAKER_PROBE_INTERVAL_MS = 500;
/** Longest pause between two probes while the store refuses this node for a persistent reason. */
export const BREAKER_PROBE_MAX_INTERVAL_MS = 30_000;
/** Longest a probe (connect and `select 1`) may take before it counts as failed. */
export const BREAKER_PROBE_TIMEOUT_MS = 1000;

/** Why the store is taken for down; `summary` names no user, database or secret. */
export interface BreakerCause {
  reason: string;
  driverCode: string | undefined;
  persistent: boolean;
  summary: string;
}

function byCode(e: unknown): BreakerCause {
  const raw = (e as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  return { reason: code ?? 'no-connection', driverCode: code, persistent: false, summary: 'the store cannot be reached' };
}

export class StoreBreaker {
  private down: { cause: BreakerCause; since: number; error: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  /** The pause before the next probe. */
  private delayMs: number;
  private readonly listeners = new Set<(down: boolean) => void>();
  private readonly intervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly classify: (e: unknown) => BreakerCause;

  constructor(private readonly o: { probe(): Promise<void>; logger?: Logger | undefined; intervalMs?: number; maxIntervalMs?: number; classify?: (e: unknown) => BreakerCause }) {
    this.intervalMs = o.intervalMs ?? BREAKER_PROBE_INTERVAL_MS;
    this.maxIntervalMs = Math.max(this.intervalMs, o.maxIntervalMs ?? BREAKER_PROBE_MAX_INTERVAL_MS);
    this.delayMs = this.intervalMs;
    this.classify = o.classify ?? byCode;
  }

  get isOpen(): boolean {
    return this.down !== undefined;
  }

  /** Calls `fn(true)` when the store is taken for down, `fn(false)` when a probe passed. */
  onChange(fn: (down: boolean) => void): void {
    this.listeners.add(fn);
  }

  /** Throws `store.unavailable` while the store is taken for down. */
  check(): void {
    if (this.down === undefined) return;
    throw this.refusal();
  }

  /**
   * The error a statement refused while the store is down fails with: `details.reason` and
   * `driverCode` name the cause. `expose` (for `/readyz`): its message may be shown; it names
   * the reason and what it means, never the driver's words (which may name the user).
   */
  refusal(opts: { expose?: boolean } = {}): PortcullisError {
    const cause = this.down?.cause;
    const what = cause === undefined ? 'down' : `${cause.reason}: ${cause.summary}`;
    const until = cause?.persistent ? `a probe (every ${Math.round(this.maxIntervalMs / 1000)} s at most) is let in` : 'a probe reaches it';
    return new PortcullisError('store.unavailable', `the durable store is taken for down (${what}); statements are refused until ${until}`, {
      ...(opts.expose === true ? { expose: true } : {}),
      details: {
        retryable: true,
        retryAfterMs: Math.max(1000, cause?.persistent ? this.delayMs : this.intervalMs),
        ...(cause !== undefined ? { reason: cause.reason } : {}),
        ...(cause?.driverCode !== undefined ? { driverCode: cause.driverCode } : {}),
      },
      // the failure that took the store for down: the start-up error and the log show it
      ...(this.down !== undefined ? { cause: this.down.error } : {}),
    });
  }

  /** Takes the store for down after `e` (a connect or a statement that got no answer); starts the probes. */
  trip(e: unknown): void {
    if (this.closed || this.down !== undefined) return;
    const cause = this.classify(e);
    this.down = { cause, since: Date.now(), error: e };
    this.delayMs = this.intervalMs;
    this.log(cause, e);
    this.emit(true);
    if (!this.probing) void this.probe();
  }

  private log(cause: BreakerCause, e: unknown): void {
    const fields = { reason: cause.reason, code: cause.driverCode, err: (e as Error | null)?.message };
    if (cause.persistent) {
      this.o.logger?.error(fields, `the durable store refuses this node (${cause.summary}): statements are refused (503 store.unavailable); a probe is tried ever less often (up to every ${Math.round(this.maxIntervalMs / 1000)} s) until the setting is fixed`);
    } else {
      this.o.logger?.error(fields, `${cause.summary}: statements are refused (503 store.unavailable) until a probe reaches it`);
    }
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    if (this.closed || this.down === undefined) return;
    this.probing = true;
    let passed = false;
    let failure: unknown;
    try {
      await this.o.probe();
      passed = true;
    } catch (e) {
      failure = e;
    } finally {
      this.probing = false;
    }
    if (this.closed || this.down === undefined) return;
    if (passed) {
      const was = this.down;
      this.down = undefined;
      this.delayMs = this.intervalMs;
      this.o.logger?.info({ reason: was.cause.reason, code: was.cause.driverCode, downMs: Date.now() - was.since }, 'the durable store is reachable again');
      this.emit(false);
      return;
    }
    const cause = this.classify(failure);
    // the probe met another cause (the server is back, and now refuses the password): say so once
    const changed = cause.reason !== this.down.cause.reason;
    this.down = { ...this.down, cause, error: failure };
    if (changed) {
      this.log(cause, failure);
      this.delayMs = this.intervalMs;
    } else if (cause.persistent) {
      this.delayMs = Math.min(this.maxIntervalMs, this.delayMs * 2);
    }
    this.timer = setTimeout(() => void this.probe(), cause.persistent ? this.delayMs : this.intervalMs);
    this.timer.unref();
  }

  private emit(down: boolean): void {
    for (const fn of this.listeners) {
      try {
        fn(down);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Stops the probes for good (the store is closing): no timer is left, none is started. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
