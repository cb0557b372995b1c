/**
 * The keys `consumeOnce` has used, for the in-process ephemeral store: per key a 128-bit
 * fingerprint (the first half of its SHA-256) and an expiry, in typed arrays with open
 * addressing and linear probing.
 *
 * Why not a Map of strings: a gateway that checks RFC 9421 nonces keeps every nonce for
 * the signature's maximum age (6 minutes by default), so 5,000 signed requests a second
 * hold 1.8 million keys. As strings in a Map that was ~300 bytes of JavaScript heap each
 * (2 million keys: 400 MB, marked by every full GC, and each new key copied by the young-
 * generation GC before promotion). Here a slot is 24 bytes outside the heap the GC scans,
 * at a load between 0.25 and 0.7 while the live set grows or holds: 34–96 bytes a key.
 * When it shrinks, the table follows at its next rebuilds.
 *
 * Fingerprints only ever err towards refusal: two keys that shared one would make the
 * second look used (fail closed), never let a used key through. SHA-256 makes that a
 * 2^-128 event per pair, and an attacker who picks nonces cannot aim one at a key of
 * another app or user (that would be a second preimage). A key that is not well-formed
 * UTF-16 would hash like another (lone surrogates encode as U+FFFD), so the store keeps
 * such keys exactly, in its Map.
 *
 * Expired slots are reused by later keys on their probe path. When filled slots pass 70%
 * of the table, a table twice the live keys replaces it. Both the count of live keys
 * (from 60% on) and the move into the new table go a few slots per call, so no call
 * stalls the event loop for a rehash of millions of keys (the Map's rehash took ~230 ms
 * at 2 million keys; a rebuild done at once here, ~340 ms). What remains is allocating
 * the new table: ~25 ms for 4 million slots (96 MB) on the bench machine, once each time
 * the live set doubles. While keys move, a lookup reads the new table, then the old one.
 */
import { hash } from 'node:crypto';

const MIN_SLOTS = 1024;
/** A slot: four 32-bit fingerprint words and a 64-bit expiry. */
const SLOT_BYTES = 24;
const MAX_LOAD = 0.7;
/** From this load on, the live keys are counted, a few slots per call, for the next table's size. */
const COUNT_LOAD = 0.6;
const COUNT_PER_CALL = 256;
/** Old slots moved per call while a rebuild is under way. */
const MOVE_PER_CALL = 32;

/** The first 128 bits of the key's SHA-256 (of its UTF-8), as four words. */
function fingerprint(key: string): [number, number, number, number] {
  const d = hash('sha256', key, 'buffer');
  return [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)];
}

class Table {
  readonly mask: number;
  /** Four 32-bit words of fingerprint per slot. */
  readonly fp: Uint32Array;
  /** Expiry (epoch ms) per slot; 0 = never filled, -Infinity = forgotten. A slot is live while now < expiry. */
  readonly exp: Float64Array;
  /** Slots filled since the table was made, live or expired. */
  filled = 0;

  constructor(readonly slots: number) {
    this.mask = slots - 1;
    this.fp = new Uint32Array(slots * 4);
    this.exp = new Float64Array(slots);
  }

  /**
   * The slot holding fingerprint (a,b,c,e), or -(slot + 1) for where it would go: the
   * first expired slot on its probe path, else the empty slot that ends it.
   */
  find(a: number, b: number, c: number, e: number, now: number): number {
    const { fp, exp, mask } = this;
    let i = a & mask;
    let reuse = -1;
    for (;;) {
      const t = exp[i]!;
      if (t === 0) return -((reuse === -1 ? i : reuse) + 1);
      const j = i * 4;
      if (fp[j] === a && fp[j + 1] === b && fp[j + 2] === c && fp[j + 3] === e) return i;
      if (reuse === -1 && t <= now) reuse = i;
      i = (i + 1) & mask;
    }
  }

  put(i: number, a: number, b: number, c: number, e: number, expiresAt: number): void {
    if (this.exp[i] === 0) this.filled++;
    const j = i * 4;
    this.fp[j] = a;
    this.fp[j + 1] = b;
    this.fp[j + 2] = c;
    this.fp[j + 3] = e;
    this.exp[i] = expiresAt;
  }

  /** Live slots among [from, to). */
  live(now: number, from = 0, to = this.slots): number {
    let n = 0;
    const exp = this.exp;
    for (let i = from; i < to; i++) if (now < exp[i]!) n++;
    return n;
  }
}

/** A count of the live keys under way: the next slot, the count so far, and `filled` when it began. */
interface Count {
  cursor: number;
  live: number;
  filledAtStart: number;
}

export class OnceSet {
  private cur = new Table(MIN_SLOTS);
  /** The table being emptied into `cur`, and the next slot of it to move. */
  private old: Table | undefined;
  private cursor = 0;
  private count: Count | undefined;

  /**
   * Marks `key` used until `expiresAt` unless it is used already (live at `now`);
   * true when this call was the first.
   */
  consume(key: string, now: number, expiresAt: number): boolean {
    const [a, b, c, e] = fingerprint(key);
    if (this.old !== undefined) this.move(now, MOVE_PER_CALL);
    else if (this.count !== undefined) this.countSome(now, COUNT_PER_CALL);
    const cur = this.cur;
    const at = cur.find(a, b, c, e, now);
    if (at >= 0) {
      // a key found in the new table was never live in the old one after it
      if (now < cur.exp[at]!) return false;
      cur.exp[at] = expiresAt;
      return true;
    }
    const old = this.old;
    if (old !== undefined) {
      const o = old.find(a, b, c, e, now);
      if (o >= 0 && now < old.exp[o]!) return false;
    }
    cur.put(-at - 1, a, b, c, e, expiresAt);
    if (cur.filled > cur.slots * COUNT_LOAD && this.old === undefined) {
      if (this.count === undefined) this.count = { cursor: 0, live: 0, filledAtStart: cur.filled };
      else if (cur.filled > cur.slots * MAX_LOAD) this.rebuild(now);
    }
    return true;
  }

  /** Forgets `key` (a later `consume` of it is a first use again). */
  forget(key: string): void {
    const [a, b, c, e] = fingerprint(key);
    for (const t of this.old === undefined ? [this.cur] : [this.cur, this.old]) {
      // -Infinity: expired for every clock, yet not empty, so probe paths through it still hold
      const at = t.find(a, b, c, e, -Infinity);
      if (at >= 0) t.exp[at] = -Infinity;
    }
  }

  /** Keys live at `now` (walks the tables; for tests and diagnostics). */
  live(now: number): number {
    if (this.old !== undefined) this.move(now, Infinity);
    return this.cur.live(now);
  }

  /** Slots in the table (24 bytes each), and whether keys are still moving out of an old one. */
  get capacity(): number {
    return this.cur.slots;
  }

  get rebuilding(): boolean {
    return this.old !== undefined;
  }

  /** Bytes the tables take (both while keys move from one to the other). */
  get bytes(): number {
    return (this.cur.slots + (this.old?.slots ?? 0)) * SLOT_BYTES;
  }

  /** Moves up to `n` slots of the old table (the live keys in them) into the new one. */
  private move(now: number, n: number): void {
    const old = this.old!;
    const cur = this.cur;
    const end = Math.min(old.slots, this.cursor + n);
    for (let i = this.cursor; i < end; i++) {
      const t = old.exp[i]!;
      if (now < t) {
        const j = i * 4;
        const a = old.fp[j]!;
        const at = cur.find(a, old.fp[j + 1]!, old.fp[j + 2]!, old.fp[j + 3]!, now);
        // (never found: a key enters the new table only when it is not live in the old one)
        if (at < 0) cur.put(-at - 1, a, old.fp[j + 1]!, old.fp[j + 2]!, old.fp[j + 3]!, t);
      }
    }
    this.cursor = end;
    if (end === old.slots) this.old = undefined;
  }

  private countSome(now: number, n: number): void {
    const c = this.count!;
    const end = Math.min(this.cur.slots, c.cursor + n);
    c.live += this.cur.live(now, c.cursor, end);
    c.cursor = end;
  }

  /**
   * Starts a table twice the size of the live keys (and of what may arrive while they
   * move). The count began at 60% load; keys that filled empty slots since are added to
   * it (an expired slot reused behind the count's cursor is missed, which the factor of
   * two absorbs).
   */
  private rebuild(now: number): void {
    const from = this.cur;
    const c = this.count!;
    if (c.cursor < from.slots) this.countSome(now, Infinity);
    const live = c.live + (from.filled - c.filledAtStart);
    this.count = undefined;
    let slots = MIN_SLOTS;
    while (slots < 2 * (live + Math.ceil(from.slots / MOVE_PER_CALL) + 1)) slots *= 2;
    this.old = from;
    this.cursor = 0;
    this.cur = new Table(slots);
  }
}
