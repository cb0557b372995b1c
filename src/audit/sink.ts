/** Where components drop audit events; never blocks the caller on a database write. */
import { PortcullisError } from '../core/errors.js';
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
  /** Resolves once every event recorded so far is stored; rejects with `audit.unavailable` when they could not be (or one was dropped, the queue full). */
  flush(): Promise<void>;
}

/**
 * Waits until what `audit` recorded is stored, for a change a person made on a page (the
 * account page, the sign-in's enrolment step). When it cannot be stored: `audit.unavailable`
 * (503) carrying `message`, shown to that person as it is (saying whether the change was
 * made: most are made first, a renewal of recovery codes only after its event is stored).
 *
 * @example
 * await storedOrTell(this.d.audit, 'Your change was made but could not be recorded yet; do not repeat it.');
 */
export async function storedOrTell(audit: DurableAuditSink, message: string): Promise<void> {
  try {
    await audit.flush();
  } catch (e) {
    if (!(e instanceof PortcullisError) || e.code !== 'audit.unavailable') throw e;
    throw new PortcullisError('audit.unavailable', message, { cause: e, expose: true });
  }
}

/** Collects events in memory (tests, tools). */
export class MemoryAuditSink implements DurableAuditSink {
  readonly events: AuditEventInput[] = [];
  record(event: AuditEventInput): void {
    this.events.push(event);
  }
  async flush(): Promise<void> {}
}
