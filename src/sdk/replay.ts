/**
 * Remembering the signature nonces a webhook receiver accepted, so the same request
 * sent again within its signature's window is refused (`signature.replayed`). Each
 * nonce is kept until `expiresAt` (the end of the window `verifyWebhook` accepts the
 * signature in: to the end of second `created` + `maxAge` + `clockSkew`); after that the signature itself
 * is too old to verify, so the nonce can be forgotten.
 *
 * The built-in store is per process. A receiver that runs as several instances (behind
 * a load balancer) must give them one shared store, or a request replayed to another
 * instance is accepted there: implement `ReplayStore` over Redis (`SET key 1 NX PXAT
 * expiresAt`: seen when the SET did not happen), a database row with a unique key, …
 */
import { PortcullisError } from '../core/errors.js';

/** Where a receiver remembers the nonces it accepted. */
export interface ReplayStore {
  /**
   * Records `nonce` until `expiresAt` (milliseconds since the epoch) and answers whether
   * it was already recorded (and not yet expired): true means a replay. Must be atomic:
   * of two concurrent calls with one nonce, only one may answer false. A store that
   * cannot answer must throw (the message is then refused), never answer false.
   */
  seen(nonce: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /** Most nonces remembered at once (default 100 000); full of unexpired ones, new messages are refused. */
  maxEntries?: number;
  /** The clock in milliseconds, for tests. */
  now?: () => number;
}

/**
 * A bounded in-memory `ReplayStore` for one process. When it holds `maxEntries`
 * unexpired nonces, a new one is refused with `unavailable` rather than an unexpired
 * one forgotten (which would let its replay through). Only nonces of signatures that
 * verified reach the store, so only Portcullis's own traffic fills it.
 *
 * @example
 * const replayStore = new MemoryReplayStore({ maxEntries: 50_000 });
 * await verifyWebhook(request, { jwksUrl, tag: OTP_TAG, replayStore });
 */
export class MemoryReplayStore implements ReplayStore {
  private readonly entries = new Map<string, number>();
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.max) || this.max < 1) throw new TypeError('MemoryReplayStore: maxEntries must be a positive integer');
    this.now = options.now ?? Date.now;
  }

  /** Nonces held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  seen(nonce: string, expiresAt: number): boolean {
    const now = this.now();
    const held = this.entries.get(nonce);
    if (held !== undefined && held > now) return true;
    this.entries.delete(nonce);
    // entries come in roughly in expiry order: drop the expired head cheaply, sweep all when full
    for (const [n, exp] of this.entries) {
      if (exp > now) break;
      this.entries.delete(n);
    }
    if (this.entries.size >= this.max) {
      for (const [n, exp] of this.entries) if (exp <= now) this.entries.delete(n);
      if (this.entries.size >= this.max) throw new PortcullisError('unavailable', `the webhook replay cache is full (${this.max} unexpired nonces): refused rather than forget one`);
    }
    this.entries.set(nonce, expiresAt);
    return false;
  }
}
