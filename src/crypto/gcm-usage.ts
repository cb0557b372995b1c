/**
 * Invocation limits of AES-GCM keys under which Portcullis draws random 96-bit IVs
 * (NIST SP 800-38D §8.3: "the total number of invocations of the authenticated
 * encryption function shall not exceed 2^32, including all IV lengths and all
 * instances of the authenticated encryption function with the given key").
 *
 * Each key (a transit key version, a data key of the envelope, an app's `dir` key) has a
 * durable count in the store. A process reserves counts in blocks with one atomic
 * `count = count + block` (KeyUsageStore.reserveKeyUsage), like a sequence cache, and
 * hands them out from memory: an encryption costs an integer compare and increment, a
 * store write happens once per block. A restart or a crash forfeits the unused rest of
 * a block (the count only errs high), and nodes sharing a store never hand out more than
 * the limit between them, because the store refuses a reservation at or past it.
 */
import type { KeyUsageStore } from './store.js';

/** NIST SP 800-38D §8.3: at most 2^32 invocations of a key with random IVs. */
export const GCM_RANDOM_IV_LIMIT = 2 ** 32;
/** Encryptions reserved per store write. */
export const GCM_DEFAULT_BLOCK = 2 ** 16;

export interface GcmUsageOptions {
  /** Encryptions allowed per key (1..2^32; default 2^32). */
  limit?: number;
  /** Encryptions reserved per store write (default 2^16). */
  block?: number;
  /**
   * Told once per key and process when the store first refuses a reservation: the key has
   * reached its limit. Every request after that is refused too (each with its own denial);
   * this is the one event that says the key itself is spent (app.ts audits it).
   */
  onExhausted?: (keyId: string, limit: number) => void;
}

/** The invocation count of one key in this process: a reserved block [next, end). */
export class GcmKeyUsage {
  next = 0;
  end = 0;
  /** Set once the store refused a reservation: the key reached its limit (counts never go down). */
  exhausted = false;
  /** @internal the reservation in flight, shared by concurrent callers. */
  pending: Promise<boolean> | undefined;

  constructor(readonly keyId: string) {}

  /** Takes one invocation from the reserved block; false when the block is used up (then `GcmMeter.acquire`). */
  take(): boolean {
    if (this.next < this.end) {
      this.next++;
      return true;
    }
    return false;
  }
}

/**
 * Counts encryptions per key against the configured limit.
 *
 * @example
 * const usage = meter.counter(`transit:${name}:v${version}`);
 * if (!usage.take() && !(await meter.acquire(usage))) throw exhausted();
 * // … one AES-GCM encryption with a random IV
 */
export class GcmMeter {
  readonly limit: number;
  readonly block: number;
  private readonly counters = new Map<string, GcmKeyUsage>();

  private readonly onExhausted: ((keyId: string, limit: number) => void) | undefined;

  constructor(
    private readonly store: KeyUsageStore,
    opts: GcmUsageOptions = {},
  ) {
    this.onExhausted = opts.onExhausted;
    this.limit = opts.limit ?? GCM_RANDOM_IV_LIMIT;
    this.block = opts.block ?? GCM_DEFAULT_BLOCK;
    if (!Number.isSafeInteger(this.limit) || this.limit < 1 || this.limit > GCM_RANDOM_IV_LIMIT) throw new RangeError(`the AES-GCM invocation limit must be between 1 and 2^32`);
    if (!Number.isSafeInteger(this.block) || this.block < 1 || this.block > GCM_RANDOM_IV_LIMIT) throw new RangeError(`the AES-GCM reservation block must be between 1 and 2^32`);
  }

  /** The counter of `keyId` in this process (one object per key, kept for the process's life). */
  counter(keyId: string): GcmKeyUsage {
    let u = this.counters.get(keyId);
    if (u === undefined) this.counters.set(keyId, (u = new GcmKeyUsage(keyId)));
    return u;
  }

  /**
   * Takes one invocation of `u`, reserving a new block in the store when the current one
   * is used up; false when the key has reached its limit. Store failures propagate (fail closed).
   */
  async acquire(u: GcmKeyUsage): Promise<boolean> {
    while (!u.take()) {
      if (u.exhausted) return false;
      if (!(await (u.pending ??= this.reserve(u)))) return false;
    }
    return true;
  }

  private async reserve(u: GcmKeyUsage): Promise<boolean> {
    try {
      const start = await this.store.reserveKeyUsage(u.keyId, this.block, this.limit);
      if (start === undefined) {
        if (!u.exhausted) this.onExhausted?.(u.keyId, this.limit);
        u.exhausted = true;
        return false;
      }
      u.next = start;
      u.end = Math.min(start + this.block, this.limit);
      return u.next < u.end;
    } finally {
      u.pending = undefined;
    }
  }

  /** Encryptions counted per key (reserved by every node, so an upper bound), capped at the limit; 0 for a key never used. */
  async usage(keyIds: readonly string[]): Promise<Map<string, number>> {
    const stored = keyIds.length === 0 ? new Map<string, number>() : await this.store.readKeyUsage(keyIds);
    return new Map(keyIds.map((id) => [id, Math.min(stored.get(id) ?? 0, this.limit)]));
  }
}

/** A KeyUsageStore in memory, for tests and a Transit built without a durable store. */
export class MemoryKeyUsageStore implements KeyUsageStore {
  private readonly counts = new Map<string, number>();

  async reserveKeyUsage(keyId: string, block: number, limit: number): Promise<number | undefined> {
    const used = this.counts.get(keyId) ?? 0;
    if (used >= limit) return undefined;
    this.counts.set(keyId, used + block);
    return used;
  }

  async readKeyUsage(keyIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of keyIds) {
      const n = this.counts.get(id);
      if (n !== undefined) out.set(id, n);
    }
    return out;
  }
}
