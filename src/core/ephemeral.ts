/**
 * Ephemeral state shared by every node: one-time values, counters, pub/sub.
 * Adapters: memory (one process) and Redis (many nodes). Race safety is part of the
 * contract: under concurrent callers, across nodes, exactly one `consumeOnce` wins,
 * `advance` compares and moves a value forward in one step, and `takeInWindow` counts
 * and records in one step.
 */

/** What `takeInWindow` answers. */
export type WindowTake =
  /** Recorded: `id` gives it back (`releaseInWindow`); `count` is the events now in the window, this one included. */
  | { taken: true; id: string; count: number }
  /** Refused, nothing recorded: the window is full until its oldest event leaves, `retryAfterMs` from now. */
  | { taken: false; retryAfterMs: number };

export interface EphemeralStore {
  /**
   * Marks `key` as used for `ttlMs`. Returns true for exactly one caller until the
   * key expires; every other caller (any node) gets false.
   */
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;
  /**
   * `consumeOnce` for a value made at `madeAt` (epoch ms), such as a signature nonce
   * with its `created`. A store forgets its keys when it starts empty (a node's memory
   * after a restart; Redis restarted without persistence), so a value made before that
   * may have been consumed already: `unknown`, for every caller. Otherwise `first` for
   * exactly one caller until the key expires, `used` for every other (any node).
   */
  consumeOnceMadeAt(key: string, ttlMs: number, madeAt: number): Promise<'first' | 'used' | 'unknown'>;
  /**
   * Compare-and-advance: when `key` holds nothing (or has expired) or an integer less
   * than `next`, stores `to` (default `next`; never less than it) for `ttlMs` and returns
   * true; otherwise leaves the value as it is and returns false. Check and write are one
   * step on every node, so of concurrent callers with the same `next` exactly one wins,
   * and no caller ever moves the value back. `next` and `to` are safe integers; a key
   * holding something else fails with `internal`.
   */
  advance(key: string, next: number, ttlMs: number, to?: number): Promise<boolean>;
  /**
   * Sliding-window cap: records one event under `key` when fewer than `limit` were
   * recorded in the last `windowMs` (by the store's clock: one clock for every node on
   * Redis), otherwise records nothing. Unlike a counter per fixed period, no two periods
   * can be filled back to back: any `windowMs` span holds at most `limit` events. Count
   * and record are one step on every node, so concurrent callers never take more than
   * `limit`. `windowMs` is a positive duration, `limit` a positive safe integer; a key
   * holding something else fails with `internal`.
   */
  takeInWindow(key: string, windowMs: number, limit: number): Promise<WindowTake>;
  /** Gives back an event `takeInWindow` recorded; a no-op when it is gone (given back, left the window, deleted). */
  releaseInWindow(key: string, id: string): Promise<void>;
  /** Atomically adds `by` (default 1) to a counter that expires `ttlMs` after it was created; returns the new value. */
  increment(key: string, ttlMs: number, by?: number): Promise<number>;
  /** Reads a value set with `set` (undefined once expired). */
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Delivers `message` to every subscriber of `channel` on every node (at most once; losses are covered by reconcile). */
  publish(channel: string, message: string): Promise<void>;
  /** Subscribes; returns an unsubscribe function. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls `fn(false)` when the subscriptions' connection is lost (messages published from
   * then on are missed) and `fn(true)` once every channel is subscribed again. A store
   * that cannot miss a message (one process's memory) has no such method.
   */
  onSubscriptionsLive?(fn: (live: boolean) => void): void;
  /** Round-trip check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
