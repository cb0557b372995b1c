/**
 * Upstream availability in the audit trail, per route and upstream origin.
 *
 * The first failure after a healthy period (unreachable, reset, timed out, a head Node
 * refuses) is an `upstream.unavailable` event with its error code; while the upstream
 * stays down, at most one more per window, each with the running count. The first
 * relayed response after a reported failure is an `upstream.recovered` event with how
 * many requests failed meanwhile. An upstream that flaps within a window adds no events;
 * its failures are reported as one unavailable/recovered pair once the window has passed.
 * So a dead or flapping upstream costs at most two events per route and window, never
 * one per request.
 *
 * Events name the upstream by its origin (scheme, host, port): never the userinfo, path
 * or query of the configured URL, and never an error message (only Node's error code).
 * Nothing here touches a database: the audit sink queues and batches. A relayed response
 * costs the caller one boolean check (`attention`) while the upstream is healthy. The
 * window is audit/event-window.ts's, as for other events an outside party can cause.
 */
import { AUDIT_WINDOW_MS, EventWindow } from '../audit/event-window.js';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import type { PortcullisError } from '../core/errors.js';

/** At most one `upstream.unavailable` per route and upstream within this time. */
export const UPSTREAM_AUDIT_WINDOW_MS = AUDIT_WINDOW_MS;

/** Node's error code of the cause (`ECONNREFUSED`, `UND_ERR_SOCKET`…), or undefined. */
function causeCode(err: PortcullisError): string | undefined {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : undefined;
}

export class UpstreamHealth {
  /** True while a failure is not yet followed by an event that closes it (the success path checks only this). */
  attention = false;
  /** Failures since the last `upstream.recovered` (or since start). */
  private failed = 0;
  /** Time of the first of those failures. */
  private since = 0;
  /** Whether an `upstream.unavailable` was recorded that no `upstream.recovered` has closed yet. */
  private reported = false;
  /** When the last `upstream.unavailable` was recorded. */
  private readonly window: EventWindow;
  private lastCode = '';

  constructor(
    private readonly route: string,
    /** The upstream's origin (`URL.origin`). */
    private readonly upstream: string,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    windowMs = UPSTREAM_AUDIT_WINDOW_MS,
  ) {
    this.window = new EventWindow(windowMs);
  }

  /**
   * A request that failed on the upstream (`upstream.unavailable`, `upstream.timeout`).
   * @example if (err.code === 'upstream.timeout') route.health.failure(err)
   */
  failure(err: PortcullisError): void {
    const now = this.clock.now();
    if (this.failed === 0) this.since = now;
    this.failed++;
    this.lastCode = err.code;
    this.attention = true;
    if (!this.window.open(now)) return;
    const cause = causeCode(err);
    this.unavailable(now, err.code, cause);
  }

  /**
   * A response was relayed. Call only when `attention` is true.
   * @example if (route.health.attention) route.health.success()
   */
  success(): void {
    const now = this.clock.now();
    if (!this.reported) {
      // failures within the window of the previous report (a flapping upstream): reported once it has passed
      if (!this.window.open(now)) return;
      this.unavailable(now, this.lastCode, undefined);
    }
    this.audit.record({
      time: now,
      type: 'upstream.recovered',
      actor: 'system',
      clientId: null,
      route: this.route,
      reason: null,
      data: { upstream: this.upstream, failed: this.failed, since: this.since, downMs: now - this.since },
    });
    this.failed = 0;
    this.reported = false;
    this.attention = false;
  }

  private unavailable(now: number, code: string, cause: string | undefined): void {
    this.reported = true;
    this.window.recorded(now);
    this.audit.record({
      time: now,
      type: 'upstream.unavailable',
      actor: 'system',
      clientId: null,
      route: this.route,
      reason: code,
      data: { upstream: this.upstream, count: this.failed, since: this.since, ...(cause !== undefined ? { cause } : {}) },
    });
  }
}
