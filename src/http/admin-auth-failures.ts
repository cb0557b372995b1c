/**
 * Requests to the admin API without a valid admin credential, counted per client address
 * in memory, so a flood of them neither grows the audit trail without bound nor costs a
 * durable write each. The first failure from an address in a window is an `admin.denied`
 * event at once; the others are counted, and when the window closes (or the node stops)
 * one `admin.denied-repeated` event gives the window's failures (`count`, the first
 * included), the requests refused with 429 meanwhile (`throttled`) and the last request. After `throttleAfter` failures in its window, an address's requests
 * without the right credential are answered 429 `admin.throttled` with `Retry-After` (not
 * counted again) until the window closes; a request with the right credential always passes.
 *
 * IPv6 clients are counted by their /64 (one host usually holds a whole /64). The table
 * holds at most `maxAddresses` addresses: failures from further addresses share one entry
 * (reported with `address: null`), which is never throttled, so a flood from many
 * (spoofed or borrowed) addresses cannot grow memory, nor shut out an administrator who
 * comes from a new one. Each window thus costs at most two events per tracked address,
 * plus two for the rest. Nothing here touches a store: the audit sink queues and batches.
 */
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import { countedAddress } from '../identity/lockout.js';

export interface AdminAuthFailureLimits {
  /** Length of an address's window, in ms, from its first failure. */
  window: number;
  /** Failures in one window after which the address is answered 429 until the window closes. */
  throttleAfter: number;
  /** Addresses tracked at once; failures from others share one entry. */
  maxAddresses: number;
}

/** What one refused request was. */
export interface AdminDenial {
  method: string;
  route: string | null;
  credential: 'missing' | 'invalid';
}

interface Entry {
  /** The counted address (`2001:db8:1:2::/64` for IPv6), null for the shared entry. */
  address: string | null;
  /** Start of the window: the first failure's time. */
  since: number;
  failures: number;
  /** Requests answered 429 in this window. */
  throttled: number;
  last: AdminDenial;
}

const IPV6_PREFIX = 64;

export class AdminAuthFailures {
  private readonly entries = new Map<string, Entry>();
  private others: Entry | undefined;

  constructor(
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    readonly limits: AdminAuthFailureLimits,
  ) {}

  /**
   * Seconds the address must wait (for `Retry-After`), or 0 when its request may be
   * checked. One map lookup per admin request.
   */
  retryAfter(remoteAddress: string | undefined): number {
    if (this.entries.size === 0) return 0;
    const e = this.entries.get(key(remoteAddress));
    if (e === undefined || e.failures < this.limits.throttleAfter) return 0;
    const left = e.since + this.limits.window - this.clock.now();
    if (left <= 0) return 0;
    e.throttled++;
    return Math.ceil(left / 1000);
  }

  /** A request refused for a missing or invalid credential. */
  failed(remoteAddress: string | undefined, denial: AdminDenial): void {
    const now = this.clock.now();
    const k = key(remoteAddress);
    let e = this.entries.get(k) ?? (this.others !== undefined && !this.entries.has(k) && this.entries.size >= this.limits.maxAddresses ? this.others : undefined);
    if (e !== undefined && now - e.since >= this.limits.window) {
      this.close(e, now);
      e = undefined;
    }
    if (e === undefined) {
      e = { address: k, since: now, failures: 0, throttled: 0, last: denial };
      if (this.entries.size < this.limits.maxAddresses) this.entries.set(k, e);
      else this.others = e = { ...e, address: null };
    }
    e.failures++;
    e.last = denial;
    if (e.failures > 1) return;
    this.audit.record({ time: now, type: 'admin.denied', actor: 'anonymous', reason: 'admin.unauthorized', data: { ...denial, address: e.address } });
  }

  /** Reports and forgets every window that has closed (on a timer). */
  sweep(): void {
    const now = this.clock.now();
    for (const e of this.entries.values()) if (now - e.since >= this.limits.window) this.close(e, now);
    if (this.others !== undefined && now - this.others.since >= this.limits.window) this.close(this.others, now);
  }

  /** Reports every open window now (the node is stopping). */
  closeAll(): void {
    const now = this.clock.now();
    for (const e of [...this.entries.values(), ...(this.others ? [this.others] : [])]) this.close(e, now);
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private close(e: Entry, now: number): void {
    if (e.address === null) this.others = undefined;
    else this.entries.delete(e.address);
    if (e.failures <= 1 && e.throttled === 0) return;
    this.audit.record({
      time: now,
      type: 'admin.denied-repeated',
      actor: 'anonymous',
      reason: 'admin.unauthorized',
      data: { address: e.address, count: e.failures, throttled: e.throttled, since: e.since, ...e.last },
    });
  }
}

/** The address failures are counted under: see lockout's countedAddress (IPv6 by its /64). */
function key(remoteAddress: string | undefined): string {
  return (remoteAddress && countedAddress(remoteAddress, IPV6_PREFIX)) || 'unknown';
}
