/**
 * Rate limits for audit events that someone outside can cause at will (an upstream going
 * down and up, a webhook host name rebinding to a private address): the first occurrence
 * is recorded at once, later ones at most once per subject and window, with the number of
 * occurrences the event stands for. A flood of occurrences costs a counter increment each,
 * never an audit row each. Nothing here touches a store.
 */

/** At most one event per subject within this time. */
export const AUDIT_WINDOW_MS = 60_000;

/** When the last event about one subject was recorded. */
export class EventWindow {
  private last = Number.NEGATIVE_INFINITY;

  constructor(readonly ms = AUDIT_WINDOW_MS) {}

  /**
   * Whether an event may be recorded at `now`: none was within the window before it.
   * @example if (window.open(now)) { audit.record(event); window.recorded(now); }
   */
  open(now: number): boolean {
    return now - this.last >= this.ms;
  }

  /** Notes an event recorded at `now`. */
  recorded(now: number): void {
    this.last = now;
  }
}

/** What one event reports: the occurrences since the subject's previous event. */
export interface CountedReport<D> {
  count: number;
  /** Time of the first of them. */
  since: number;
  /** The detail of the latest of them. */
  detail: D;
}

interface Subject<D> extends CountedReport<D> {
  window: EventWindow;
}

/**
 * Occurrences per subject, each subject reported at most once per window with its count.
 *
 * @example
 * const refusals = new CountedEvents<string, string>((id, r, now) => audit.record({ time: now, type: 'x.refused', actor: 'system', data: { id, count: r.count } }));
 * refusals.hit(webhookId, clock.now(), 'loopback'); // recorded now, or counted for a later event
 * refusals.sweep(clock.now()); // on a timer: reports what a passed window held back
 */
export class CountedEvents<K, D> {
  private readonly subjects = new Map<K, Subject<D>>();

  constructor(
    private readonly report: (key: K, r: CountedReport<D>, now: number) => void,
    private readonly ms = AUDIT_WINDOW_MS,
  ) {}

  /** One occurrence about `key` at `now`: reported at once when the subject's window is open, else counted. */
  hit(key: K, now: number, detail: D): void {
    let s = this.subjects.get(key);
    if (s === undefined) this.subjects.set(key, (s = { window: new EventWindow(this.ms), count: 0, since: now, detail }));
    if (s.count === 0) s.since = now;
    s.count++;
    s.detail = detail;
    if (s.window.open(now)) this.flush(key, s, now);
  }

  /** Reports every subject whose window has passed with occurrences held back, and forgets the idle ones. */
  sweep(now: number): void {
    for (const [key, s] of this.subjects) {
      if (!s.window.open(now)) continue;
      if (s.count > 0) this.flush(key, s, now);
      else this.subjects.delete(key);
    }
  }

  private flush(key: K, s: Subject<D>, now: number): void {
    const { count, since, detail } = s;
    s.count = 0;
    s.window.recorded(now);
    this.report(key, { count, since, detail }, now);
  }
}
