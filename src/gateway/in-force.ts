/**
 * A gateway served on the main thread (`gateway.thread: false`, or a gateway-only node)
 * keeps every cluster event in force, as the gateway thread does (thread.ts): an event
 * it fails to apply (a store read for `app.changed`, say) makes it re-read apps,
 * revocations and keys from the store, and the event counts as applied once a re-read
 * succeeded. When the re-read fails too the gateway's gate closes: every request is
 * refused with `gateway.not-in-sync` and a re-read is tried every second; the gate
 * opens only after a re-read that began after the last failure succeeded. The event's
 * handler then rejects with `change.not-in-force` (audited), which the admin call that
 * made the change answers.
 */
import { PortcullisError } from '../core/errors.js';
import type { ClusterEvent } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { AuditSink } from '../audit/sink.js';
import type { GatewayGate } from './gate.js';

export interface InForceOptions {
  /** Applies one event to this thread's apps, revocations and keys. */
  apply(e: ClusterEvent): Promise<void>;
  /** Re-reads apps, revocations and keys from the store (the reconcile). */
  reread(): Promise<void>;
  gate: GatewayGate;
  logger: Logger;
  audit: AuditSink;
  retryMs?: number;
}

/**
 * Re-reads the store for a gateway and tracks whether it is in sync: a failed re-read
 * takes it out of sync (`onChange(false)`) and schedules another every `retryMs`; only a
 * re-read that began after the last failure puts it back (`onChange(true)`). Shared by
 * the main thread's gateway (`keepInForce`) and the gateway thread (thread-entry.ts).
 *
 * @example
 * const rereader = new StoreRereader({ reread: reconcile, onChange: (ok) => (ok ? gate.open() : gate.close('re-read failed')) });
 * await rereader.run(); // rejects as the re-read does
 */
export class StoreRereader {
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** False from a failed re-read until a later one succeeds. */
  inSync = true;

  constructor(private readonly o: { reread(): Promise<void>; onChange(inSync: boolean): void; retryMs?: number }) {}

  async run(): Promise<void> {
    const seq = this.failures;
    try {
      await this.o.reread();
    } catch (e) {
      this.failures++;
      this.inSync = false;
      this.o.onChange(false);
      if (!this.stopped) {
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.run().catch(() => undefined);
        }, this.o.retryMs ?? 1000);
        this.retry.unref();
      }
      throw e;
    }
    if (!this.inSync && seq === this.failures) {
      this.inSync = true;
      this.o.onChange(true);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
  }
}

/**
 * Wraps the event handler of a thread that serves the gateway.
 *
 * @example
 * const inForce = keepInForce({ apply: applyEvent(s), reread: reconcile, gate, logger, audit });
 * events.on(inForce.apply);
 */
export function keepInForce(o: InForceOptions): { apply(e: ClusterEvent): Promise<void>; reread(): Promise<void>; stop(): void } {
  const rereader = new StoreRereader({
    reread: o.reread,
    ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    onChange: (inSync) => {
      if (!inSync) o.gate.close('re-reading apps, revocations and keys after a change failed');
      else {
        o.gate.open();
        o.logger.info('the gateway re-read the store and serves again');
      }
    },
  });

  return {
    apply: async (e) => {
      try {
        await o.apply(e);
        return;
      } catch (err) {
        o.logger.warn({ err, event: e.type }, 'could not apply a cluster event; the gateway re-reads the store');
      }
      try {
        await rereader.run();
      } catch (cause) {
        o.logger.error({ err: cause, event: e.type }, 'the gateway could not confirm a change; it serves nothing until it has read the store');
        o.audit.record({ time: Date.now(), type: 'gateway.change-not-in-force', actor: 'system', clientId: 'clientId' in e ? e.clientId : null, reason: 'change.not-in-force', data: { event: e.type, gateway: 'refusing', thread: 'main' } });
        throw new PortcullisError('change.not-in-force', 'the change is stored, but the gateway could not confirm it is in force: the gateway refuses every request until it has read it from the store (it is retrying)', { cause, expose: true });
      }
    },
    /** Re-reads the store; while that fails the gate stays closed (fail closed), as after a failed event. */
    reread: () => rereader.run(),
    stop: () => rereader.stop(),
  };
}
