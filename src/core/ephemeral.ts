/**
 * Ephemeral state shared by every node: one-time values, counters, pub/sub.
 * Adapters: memory (one process) and Redis (many nodes). Race safety is part of the
 * contract: under concurrent callers, across nodes, exactly one `consumeOnce` wins, and
 * `advance` compares and moves a value forward in one step.
 */
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
  /** Round-trip check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
