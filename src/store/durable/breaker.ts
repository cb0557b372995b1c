/**
 * A circuit breaker for a store reached over the network (PostgreSQL, postgres.ts). A
 * connect that failed or timed out, or a statement whose answer never came, `trip`s it:
 * the store is taken for down, and `check()` refuses every statement at once with
 * `store.unavailable` (retryable, with `retryAfterMs` for `Retry-After`) instead of
 * letting each wait out the connect timeout, or queue for the pool behind those that
 * do. While it is open one probe runs at a time, the first at once and the next
 * `intervalMs` after the last ended; the first that passes closes it. While it is closed
 * nothing runs: no probe, no timer, and `check()` is a field read. `close()` stops the
 * probes for good and leaves no timer.
 */
import { PortcullisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/** Pause between two probes while the store is down. */
export const BREAKER_PROBE_INTERVAL_MS = 500;
/** Longest a probe (connect and `select 1`) may take before it counts as failed. */
export const BREAKER_PROBE_TIMEOUT_MS = 1000;

export class StoreBreaker {
  private down: { code: string; since: number; cause: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private readonly listeners = new Set<(down: boolean) => void>();
  private readonly intervalMs: number;

  constructor(private readonly o: { probe(): Promise<void>; logger?: Logger | undefined; intervalMs?: number }) {
    this.intervalMs = o.intervalMs ?? BREAKER_PROBE_INTERVAL_MS;
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

  /** The error a statement refused while the store is down fails with. */
  refusal(): PortcullisError {
    return new PortcullisError('store.unavailable', `the durable store is unreachable (${this.down?.code ?? 'down'}); statements are refused until a probe reaches it`, {
      details: { retryable: true, retryAfterMs: Math.max(1000, this.intervalMs) },
      // the failure that took the store for down: the start-up error and the log show it
      ...(this.down !== undefined ? { cause: this.down.cause } : {}),
    });
  }

  /** Takes the store for down after `e` (a connect or a statement that got no answer); starts the probes. */
  trip(e: unknown): void {
    if (this.closed || this.down !== undefined) return;
    const raw = (e as { code?: unknown } | null)?.code;
    const code = typeof raw === 'string' ? raw : 'no-connection';
    this.down = { code, since: Date.now(), cause: e };
    this.o.logger?.error({ code, err: (e as Error | null)?.message }, 'the durable store is unreachable: statements are refused (503 store.unavailable) until a probe reaches it');
    this.emit(true);
    if (!this.probing) void this.probe();
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    if (this.closed || this.down === undefined) return;
    this.probing = true;
    let passed = false;
    try {
      await this.o.probe();
      passed = true;
    } catch {
      // still down
    } finally {
      this.probing = false;
    }
    if (this.closed) return;
    if (passed) {
      const was = this.down;
      this.down = undefined;
      this.o.logger?.info({ code: was?.code, downMs: was ? Date.now() - was.since : undefined }, 'the durable store is reachable again');
      this.emit(false);
      return;
    }
    this.timer = setTimeout(() => void this.probe(), this.intervalMs);
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
