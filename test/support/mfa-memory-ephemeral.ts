/**
 * A tiny in-process EphemeralStore for the identity and MFA tests, driven by an
 * injectable clock so TTLs follow a FrozenClock. (src/store/memory will hold the real
 * memory adapter; this one exists so these tests do not wait for it.)
 */
import type { Clock } from '../../src/core/clock.js';
import type { EphemeralStore, WindowTake } from '../../src/core/ephemeral.js';

export class TestEphemeralStore implements EphemeralStore {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private readonly windows = new Map<string, { at: number; id: string }[]>();
  private windowSeq = 0;
  private readonly channels = new Map<string, Set<(m: string) => void>>();
  /** When set, every call fails as an unreachable store would. */
  down = false;

  constructor(private readonly clock: Clock) {}

  private alive<T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined {
    const e = map.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  private guard(): void {
    if (this.down) throw new Error('ephemeral store unreachable');
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    this.guard();
    if (this.alive(this.values, `once:${key}`)) return false;
    this.values.set(`once:${key}`, { value: '1', expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  /** Remembers everything since its construction: what these tests make is never older. */
  async consumeOnceMadeAt(key: string, ttlMs: number): Promise<'first' | 'used' | 'unknown'> {
    return (await this.consumeOnce(key, ttlMs)) ? 'first' : 'used';
  }

  async advance(key: string, next: number, ttlMs: number, to = next): Promise<boolean> {
    this.guard();
    const e = this.alive(this.values, key);
    if (e && Number(e.value) >= next) return false;
    this.values.set(key, { value: String(to), expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async increment(key: string, ttlMs: number, by = 1): Promise<number> {
    this.guard();
    const e = this.alive(this.counters, key);
    if (e) {
      e.value += by;
      return e.value;
    }
    this.counters.set(key, { value: by, expiresAt: this.clock.now() + ttlMs });
    return by;
  }

  async takeInWindow(key: string, windowMs: number, limit: number): Promise<WindowTake> {
    this.guard();
    const now = this.clock.now();
    const events = (this.windows.get(key) ?? []).filter((e) => e.at > now - windowMs);
    this.windows.set(key, events);
    if (events.length >= limit) return { taken: false, retryAfterMs: events[0]!.at + windowMs - now };
    const id = String(++this.windowSeq);
    events.push({ at: now, id });
    return { taken: true, id, count: events.length };
  }

  async releaseInWindow(key: string, id: string): Promise<void> {
    this.guard();
    const events = this.windows.get(key);
    if (events) this.windows.set(key, events.filter((e) => e.id !== id));
  }

  async get(key: string): Promise<string | undefined> {
    this.guard();
    return this.alive(this.values, key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.guard();
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.guard();
    this.values.delete(key);
    this.counters.delete(key);
    this.windows.delete(key);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.guard();
    for (const fn of this.channels.get(channel) ?? []) fn(message);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const set = this.channels.get(channel) ?? new Set();
    set.add(onMessage);
    this.channels.set(channel, set);
    return async () => void set.delete(onMessage);
  }

  async ping(): Promise<void> {
    this.guard();
  }

  async close(): Promise<void> {}
}
