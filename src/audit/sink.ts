/** Where components drop audit events; never blocks the caller on a database write. */
import type { AuditEventInput } from './store.js';

export interface AuditSink {
  /** Queues the event; it is written in the background, in order. */
  record(event: AuditEventInput): void;
}

/**
 * A sink that can also wait until what was recorded is stored: an acknowledged security
 * change waits for its audit event first (the audit trail, trail.ts).
 */
export interface DurableAuditSink extends AuditSink {
  /** Resolves once every event recorded so far is stored; rejects with `audit.unavailable` when they could not be. */
  flush(): Promise<void>;
}

/** Collects events in memory (tests, tools). */
export class MemoryAuditSink implements DurableAuditSink {
  readonly events: AuditEventInput[] = [];
  record(event: AuditEventInput): void {
    this.events.push(event);
  }
  async flush(): Promise<void> {}
}
