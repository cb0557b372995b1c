/** Where components drop audit events; never blocks the caller on a database write. */
import type { AuditEventInput } from './store.js';

export interface AuditSink {
  /** Queues the event; it is written in the background, in order. */
  record(event: AuditEventInput): void;
}

/** Collects events in memory (tests, tools). */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEventInput[] = [];
  record(event: AuditEventInput): void {
    this.events.push(event);
  }
}
