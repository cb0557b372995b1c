/**
 * In-process ephemeral store: one JavaScript thread makes every operation atomic.
 * Entries expire by timestamp (read against the clock on every access) and a slow,
 * unref'd sweep drops the dead ones, SWEEP_SLICE entries per turn of the event loop (a
 * gateway checking signature nonces keeps ~10^6 entries; walking them at once stalled
 * the loop for ~40 ms). Pub/sub delivers through an EventEmitter on a
 * later tick, as a network would.
 *
 * `consumeOnce` markers live apart from the other keys, as fingerprints in a compact
 * table (`once-set.ts`: 24 bytes a slot instead of ~300 bytes of heap per key); they are
 * never read back (every caller gives them a key of their own), so `get` does not see
 * them; `delete` does remove them, as it removes the key in Redis.
 *
 * A `takeInWindow` key is an entry too: its value the window's events as JSON
 * (`[[at, id], …]`, oldest first), expiring with its newest event.
 *
 * Several instances may share one `MemoryEphemeralHub` (tests of multi-node logic in
 * one process); `openEphemeralStore('memory')` gives each store its own hub.
 */
import { EventEmitter } from 'node:events';
import { PortcullisError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { EphemeralStore, WindowTake } from '../../core/ephemeral.js';
import { randomId } from '../../core/ids.js';
import { positions, step, ttlMillis, windowLimit } from '../ephemeral-args.js';
import { OnceSet } from './once-set.js';

interface Entry {
  value: string;
  /** Epoch ms; the entry is gone at and after this instant. */
  expiresAt: number;
}

export class MemoryEphemeralHub {
  readonly entries = new Map<string, Entry>();
  /** Keys `consumeOnce` has used (well-formed ones; the others are kept exactly in `entries`). */
  readonly once = new OnceSet();
  readonly bus = new EventEmitter().setMaxListeners(0);
  /** When the hub began remembering (epoch ms, set by its first store): what was consumed before is not here. */
  startedAt: number | undefined;
}

/** String.prototype.isWellFormed (ES2024: Node 20 has it, the TypeScript lib here stops at ES2023). */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

const SWEEP_INTERVAL_MS = 30_000;
/** Entries examined per turn of the event loop by the background sweep. */
const SWEEP_SLICE = 10_000;

export class MemoryEphemeralStore implements EphemeralStore {
  private readonly hub: MemoryEphemeralHub;
  private readonly clock: Clock;
  private readonly sweeper: NodeJS.Timeout;
  private readonly listeners = new Set<{ channel: string; fn: (m: string) => void }>();
  private closed = false;

  constructor(opts: { hub?: MemoryEphemeralHub; clock?: Clock } = {}) {
    this.hub = opts.hub ?? new MemoryEphemeralHub();
    this.clock = opts.clock ?? systemClock;
    this.hub.startedAt ??= this.clock.now();
    this.sweeper = setInterval(() => this.sweepInSlices(), SWEEP_INTERVAL_MS).unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.hub.entries.get(key);
    if (e === undefined) return undefined;
    if (this.clock.now() >= e.expiresAt) {
      this.hub.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private open(): void {
    if (this.closed) throw new PortcullisError('unavailable', 'ephemeral store is closed');
  }

  /** Drops expired entries now, all at once; returns how many. */
  sweep(): number {
    const now = this.clock.now();
    let n = 0;
    for (const [k, e] of this.hub.entries) if (now >= e.expiresAt) (this.hub.entries.delete(k), n++);
    return n;
  }

  private sweeping = false;

  /**
   * Drops expired entries SWEEP_SLICE at a time, yielding to the event loop in between
   * (a Map iterator stays valid across deletions and insertions); resolves with how many.
   */
  sweepInSlices(): Promise<number> {
    if (this.sweeping) return Promise.resolve(0);
    this.sweeping = true;
    const it = this.hub.entries.entries();
    let dropped = 0;
    return new Promise((resolve) => {
      const slice = (): void => {
        const now = this.clock.now();
        for (let i = 0; i < SWEEP_SLICE; i++) {
          const next = it.next();
          if (next.done === true || this.closed) {
            this.sweeping = false;
            resolve(dropped);
            return;
          }
          const [k, e] = next.value;
          if (now >= e.expiresAt) (this.hub.entries.delete(k), dropped++);
        }
        setImmediate(slice);
      };
      slice();
    });
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    this.open();
    const ttl = ttlMillis(ttlMs);
    const now = this.clock.now();
    if (isWellFormed(key)) return this.hub.once.consume(key, now, now + ttl);
    if (this.live(key) !== undefined) return false;
    this.hub.entries.set(key, { value: '1', expiresAt: now + ttl });
    return true;
  }

  async consumeOnceMadeAt(key: string, ttlMs: number, madeAt: number): Promise<'first' | 'used' | 'unknown'> {
    this.open();
    if (!(madeAt >= this.hub.startedAt!)) return 'unknown';
    return (await this.consumeOnce(key, ttlMs)) ? 'first' : 'used';
  }

  async advance(key: string, next: number, ttlMs: number, to = next): Promise<boolean> {
    this.open();
    const ttl = ttlMillis(ttlMs);
    const [above, target] = positions(next, to);
    const e = this.live(key);
    if (e !== undefined) {
      const current = /^-?\d+$/.test(e.value) ? Number(e.value) : Number.NaN;
      if (!Number.isSafeInteger(current)) throw new PortcullisError('internal', 'ephemeral store: advance over a value that is not an integer');
      if (current >= above) return false;
    }
    this.hub.entries.set(key, { value: String(target), expiresAt: this.clock.now() + ttl });
    return true;
  }

  async increment(key: string, ttlMs: number, by = 1): Promise<number> {
    this.open();
    const ttl = ttlMillis(ttlMs);
    const inc = step(by);
    const e = this.live(key);
    if (e === undefined) {
      this.hub.entries.set(key, { value: String(inc), expiresAt: this.clock.now() + ttl });
      return inc;
    }
    const current = Number(e.value);
    if (!Number.isSafeInteger(current)) throw new PortcullisError('internal', 'ephemeral store: value is not an integer counter');
    e.value = String(current + inc);
    return current + inc;
  }

  async takeInWindow(key: string, windowMs: number, limit: number): Promise<WindowTake> {
    this.open();
    const window = ttlMillis(windowMs);
    const max = windowLimit(limit);
    const now = this.clock.now();
    const events = this.windowEvents(key).filter(([at]) => at > now - window);
    if (events.length >= max) return { taken: false, retryAfterMs: events[0]![0] + window - now };
    const id = randomId(9);
    events.push([now, id]);
    this.hub.entries.set(key, { value: JSON.stringify(events), expiresAt: now + window });
    return { taken: true, id, count: events.length };
  }

  async releaseInWindow(key: string, id: string): Promise<void> {
    this.open();
    const e = this.live(key);
    if (e === undefined) return;
    const events = this.windowEvents(key);
    const left = events.filter(([, x]) => x !== id);
    if (left.length !== events.length) e.value = JSON.stringify(left);
  }

  /** The events of a window key (none when it is absent or expired). */
  private windowEvents(key: string): [number, string][] {
    const e = this.live(key);
    if (e === undefined) return [];
    let events: unknown;
    try {
      events = JSON.parse(e.value);
    } catch {
      events = undefined;
    }
    if (!Array.isArray(events)) throw new PortcullisError('internal', 'ephemeral store: takeInWindow over a value that is not a window');
    return events as [number, string][];
  }

  async get(key: string): Promise<string | undefined> {
    this.open();
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.open();
    this.hub.entries.set(key, { value, expiresAt: this.clock.now() + ttlMillis(ttlMs) });
  }

  async delete(key: string): Promise<void> {
    this.open();
    this.hub.entries.delete(key);
    if (isWellFormed(key)) this.hub.once.forget(key);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.open();
    setImmediate(() => this.hub.bus.emit(channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    this.open();
    const fn = (m: string): void => {
      try {
        onMessage(m);
      } catch {
        // A subscriber's failure is its own; it must not break delivery to the others.
      }
    };
    const sub = { channel, fn };
    this.listeners.add(sub);
    this.hub.bus.on(channel, fn);
    return async () => {
      this.hub.bus.off(channel, fn);
      this.listeners.delete(sub);
    };
  }

  /** Bytes held by `consumeOnce` markers (the fingerprint table), for the metrics. */
  onceBytes(): number {
    return this.hub.once.bytes;
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const { channel, fn } of this.listeners) this.hub.bus.off(channel, fn);
    this.listeners.clear();
  }
}
