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
 * Wraps the event handler of a thread that serves the gateway.
 *
 * @example
 * const inForce = keepInForce({ apply: applyEvent(s), reread: reconcile, gate, logger, audit });
 * events.on(inForce.apply);
 */
export function keepInForce(o: InForceOptions): { apply(e: ClusterEvent): Promise<void>; stop(): void } {
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;

  const reread = async (): Promise<void> => {
    const seq = failures;
    try {
      await o.reread();
    } catch (e) {
      failures++;
      o.gate.close('re-reading apps, revocations and keys after a change failed');
      if (!stopped) {
        retry ??= setTimeout(() => {
          retry = undefined;
          reread().catch(() => undefined);
        }, o.retryMs ?? 1000);
        retry.unref();
      }
      throw e;
    }
    if (o.gate.closed && seq === failures) {
      o.gate.open();
      o.logger.info('the gateway re-read the store and serves again');
    }
  };

  return {
    apply: async (e) => {
      try {
        await o.apply(e);
        return;
      } catch (err) {
        o.logger.warn({ err, event: e.type }, 'could not apply a cluster event; the gateway re-reads the store');
      }
      try {
        await reread();
      } catch (cause) {
        o.logger.error({ err: cause, event: e.type }, 'the gateway could not confirm a change; it serves nothing until it has read the store');
        o.audit.record({ time: Date.now(), type: 'gateway.change-not-in-force', actor: 'system', clientId: 'clientId' in e ? e.clientId : null, reason: 'change.not-in-force', data: { event: e.type, gateway: 'refusing', thread: 'main' } });
        throw new PortcullisError('change.not-in-force', 'the change is stored, but the gateway could not confirm it is in force: the gateway refuses every request until it has read it from the store (it is retrying)', { cause, expose: true });
      }
    },
    stop: () => {
      stopped = true;
      if (retry) clearTimeout(retry);
    },
  };
}
