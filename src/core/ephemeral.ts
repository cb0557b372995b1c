/**
 * Ephemeral state shared by every node: one-time values, counters, pub/sub.
 * Adapters: memory (one process) and Redis (many nodes). Race safety is part of the
 * contract: under concurrent callers, across nodes, exactly one `consumeOnce` wins.
 */
export interface EphemeralStore {
  /**
   * Marks `key` as used for `ttlMs`. Returns true for exactly one caller until the
   * key expires; every other caller (any node) gets false.
   */
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;
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
