/**
 * Brute-force limits for sign-in steps (password, TOTP, one-time codes): failures are
 * counted per account and per client IP in the ephemeral store, so the cap holds
 * across every node. An IPv6 client is counted by its /64 (`ipv6Prefix`): one host
 * usually holds a whole /64 and could otherwise take a fresh address for every guess. After `freeAttempts` failures each further attempt must wait a
 * growing delay (doubling up to `maxDelayMs`); at `lockAfter` failures the subject is
 * locked for `lockMs`. Counters fade `windowMs` after the first failure. A success
 * clears the account's counters (not the IP's, which a guesser could otherwise reset
 * with an account of their own). An administrator can unlock either. Fails closed:
 * when the ephemeral store is down, `check` throws.
 *
 * Second-factor attempts are counted per account apart from password attempts: the
 * password is what an attacker facing a second factor already has, so a right password
 * must not clear the factor's failures (only a right code or an admin unlock does).
 *
 * An attempt is reserved before it runs (`guard`): each subject keeps a count of
 * attempts in flight, taken atomically (`increment`) before the failures are read, so
 * of N concurrent guesses only those the cap allows in sequence are evaluated; the
 * others are refused as throttled. An account's attempts in flight count against its
 * free attempts (concurrent sign-ins to one account are guesses in all likelihood); an
 * address's count only against its lock threshold, since one address may be a NAT with
 * many people signing in at once: a burst from it is still cut at `lockAfter`.
 *
 * A node whose ephemeral store is its own memory forgets every counter when it restarts
 * (or crashes, which an attacker may provoke), so it is given a durable `store`: each
 * failure's count, delay and lock is written through to the durable store before the
 * attempt is answered (a write that fails refuses the attempt with `unavailable`, as an
 * ephemeral store that is down does), a success or an admin unlock clears the row, and a
 * new `Lockout` loads the rows still in force into the memory counters before it checks
 * any attempt. Attempts in flight are not kept. Redis needs none of this: it outlives a
 * node, and every node shares it. The rows that are over are purged by the node (app.ts),
 * and a node on Redis deletes every row at start (none is read there).
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import { PortcullisError } from '../core/errors.js';
import type { LockoutRecord, LockoutStore } from './store.js';

export interface LockoutLimits {
  /** Failures allowed without delay. */
  freeAttempts: number;
  /** Delay after the first failure beyond `freeAttempts`; doubles per failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures at which the subject is locked. */
  lockAfter: number;
  lockMs: number;
  /** How long a failure is remembered. */
  windowMs: number;
}

export interface LockoutPolicy {
  account: LockoutLimits;
  /** Looser by default: many users can share one address (NAT, proxies). */
  ip: LockoutLimits;
  /** IPv6 clients are counted by this prefix of their address (48–128; default 64). */
  ipv6Prefix?: number;
}

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = Object.freeze({
  account: { freeAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, lockAfter: 10, lockMs: 15 * 60_000, windowMs: 15 * 60_000 },
  // 20 free, then delays up to 30 s: the 50th failure comes ~13 minutes in, inside the hour.
  ip: { freeAttempts: 20, baseDelayMs: 1_000, maxDelayMs: 30_000, lockAfter: 50, lockMs: 15 * 60_000, windowMs: 60 * 60_000 },
  ipv6Prefix: 64,
});

/** Who is attempting: the account (user id or normalised login name) and the client address. */
export interface AttemptSubject {
  account?: string;
  ip?: string;
  /** Which step the attempt is (default `password`): the account's failures are counted per step. */
  step?: AttemptStep;
}

export type AttemptStep = 'password' | 'factor';

export interface LockoutState {
  failures: number;
  /** Epoch ms before which no attempt is accepted (delay or lock); 0 when free. */
  blockedUntil: number;
  locked: boolean;
}

type Kind = 'account' | 'ip';

/** A counter: the account's per step, the address's for every step. */
type Counter = { kind: Kind; id: string; slot: string };

/** Outlives any one attempt (an Argon2id verify queued behind others, a code sender call). */
const IN_FLIGHT_TTL_MS = 5 * 60_000;

/** The sign-in pages count a login name that matches no user as `email:<name>`. */
const UNKNOWN_ACCOUNT = 'email:';

export interface LockoutOptions {
  /**
   * Where the counters outlive a restart: given when the ephemeral store is a node's own
   * memory (see the module comment). Needs `subjectKey`.
   */
  store?: LockoutStore;
  /**
   * HMAC key for the names that match no user: they are counted (in Redis, in memory, in
   * the durable store) as a digest, never as typed, since what is typed as a login name
   * may be a password typed in the wrong field. Without it they are counted as typed
   * (tests of the counting itself).
   */
  subjectKey?: Uint8Array;
}

/** Where the counters of a node whose ephemeral store is its memory outlive a restart. */
interface LockoutDurability {
  store: LockoutStore;
}

/** A lock that just engaged: which subject, and until when (epoch ms). */
export interface LockEvent {
  kind: Kind;
  id: string;
  until: number;
  failures: number;
  /** Set for an account locked by second-factor failures. */
  step?: 'factor';
}

/**
 * @example
 * const lockout = new Lockout(ephemeral, clock);
 * await lockout.guard({ account: userId, ip }, () => checkPassword());
 */
export class Lockout {
  private readonly lockListeners: Array<(e: LockEvent) => void | Promise<void>> = [];
  /** The durable rows loaded into the ephemeral store (at once when there is no durable store). */
  private readonly restored: Promise<void>;
  private readonly durable: LockoutDurability | undefined;
  private readonly subjectKey: Uint8Array | undefined;

  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly clock: Clock,
    private readonly policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY,
    /** Separates counters of different steps if wanted; one shared namespace by default. */
    private readonly namespace = 'auth',
    options: LockoutOptions = {},
  ) {
    if (options.store !== undefined && options.subjectKey === undefined) throw new TypeError('Lockout: a durable store needs a subjectKey (names that match no user are kept as digests)');
    this.durable = options.store === undefined ? undefined : { store: options.store };
    this.subjectKey = options.subjectKey;
    this.restored = this.durable === undefined ? Promise.resolve() : this.restore(this.durable);
    // awaited by every operation (and by `ready`): not an unhandled rejection meanwhile
    this.restored.catch(() => undefined);
  }

  /**
   * Resolves once the counters kept in the durable store are loaded; rejects with
   * `unavailable` when they cannot be (every attempt is then refused alike).
   */
  async ready(): Promise<void> {
    try {
      await this.restored;
    } catch (e) {
      throw new PortcullisError('unavailable', 'the sign-in limits could not be loaded from the durable store', { cause: e });
    }
  }

  private async restore(d: LockoutDurability): Promise<void> {
    const now = this.clock.now();
    const prefix = `${this.namespace}:`;
    for (const r of await d.store.listLockoutStates(now)) {
      const slot = r.counter.startsWith(prefix) ? r.counter.slice(prefix.length) : undefined;
      if (slot !== 'account' && slot !== 'account-factor' && slot !== 'ip') continue;
      const c: Counter = { kind: slot === 'ip' ? 'ip' : 'account', id: r.subject, slot };
      if (r.failures > 0 && r.windowEndsAt > now) {
        // never below what the store holds already (another Lockout on it may have counted more)
        const held = await this.ephemeral.increment(this.key(c, 'n'), r.windowEndsAt - now, 0);
        if (held < r.failures) await this.ephemeral.increment(this.key(c, 'n'), r.windowEndsAt - now, r.failures - held);
      }
      await this.restoreUntil(this.key(c, 'until'), r.delayedUntil, now);
      await this.restoreUntil(this.key(c, 'lock'), r.lockedUntil, now);
    }
    await d.store.purgeLockoutStates(now);
  }

  private async restoreUntil(key: string, until: number, now: number): Promise<void> {
    if (until <= now) return;
    const held = await this.ephemeral.get(key);
    if (held === undefined || Number(held) < until) await this.ephemeral.set(key, String(until), until - now);
  }

  /** Runs a write to the durable store; one that fails refuses what is being done with `unavailable` (fail closed). */
  private async persist(write: (store: LockoutStore) => Promise<unknown>): Promise<void> {
    if (this.durable === undefined) return;
    try {
      await write(this.durable.store);
    } catch (e) {
      throw new PortcullisError('unavailable', 'the sign-in limits could not be stored in the durable store', { cause: e });
    }
  }

  /** Calls `listener` each time a subject becomes locked (for the audit trail and the `user.locked` webhook). */
  onLock(listener: (e: LockEvent) => void | Promise<void>): void {
    this.lockListeners.push(listener);
  }

  private key(c: Counter, part: 'n' | 'until' | 'lock' | 'busy'): string {
    return `lockout:${this.namespace}:${c.slot}:${encodeURIComponent(c.id)}:${part}`;
  }

  private account(id: string, step: AttemptStep = 'password'): Counter {
    return { kind: 'account', id: this.accountId(id), slot: step === 'factor' ? 'account-factor' : 'account' };
  }

  /** With a subject key, a name that matches no user is counted (and kept) as its keyed digest. */
  private accountId(id: string): string {
    if (this.subjectKey === undefined || !id.startsWith(UNKNOWN_ACCOUNT)) return id;
    return `${UNKNOWN_ACCOUNT}hmac-sha256:${createHmac('sha256', this.subjectKey).update(id).digest('base64url')}`;
  }

  private counterName(c: Counter): string {
    return `${this.namespace}:${c.slot}`;
  }

  /**
   * The subject's id as it is counted: an address in its one canonical spelling, and an
   * IPv6 address as its prefix (`2001:db8:1:2::/64`).
   */
  private idOf(kind: Kind, id: string): string {
    return kind === 'ip' ? (countedAddress(id, this.policy.ipv6Prefix ?? 64) ?? id) : id;
  }

  private subjects(s: AttemptSubject): Counter[] {
    const out: Counter[] = [];
    if (s.account !== undefined) out.push(this.account(s.account, s.step));
    if (s.ip !== undefined) out.push({ kind: 'ip', id: this.idOf('ip', s.ip), slot: 'ip' });
    return out;
  }

  /** Throws `auth.locked` or `auth.throttled` (with `retryAfterMs`) when an attempt may not be made now. */
  async check(subject: AttemptSubject): Promise<void> {
    await this.ready();
    const now = this.clock.now();
    for (const c of this.subjects(subject)) {
      const kind = c.kind;
      const [lock, until] = await Promise.all([this.ephemeral.get(this.key(c, 'lock')), this.ephemeral.get(this.key(c, 'until'))]);
      if (lock !== undefined && Number(lock) > now) {
        throw new PortcullisError('auth.locked', `too many failed attempts: this ${kind === 'ip' ? 'address' : 'account'} is locked`, {
          details: { retryAfterMs: Number(lock) - now, subject: kind },
        });
      }
      if (until !== undefined && Number(until) > now) {
        throw new PortcullisError('auth.throttled', 'too many failed attempts: wait before trying again', {
          details: { retryAfterMs: Number(until) - now, subject: kind },
        });
      }
    }
  }

  /** Counts one failure against each subject and sets its delay or lock. */
  async recordFailure(subject: AttemptSubject): Promise<void> {
    await this.ready();
    const now = this.clock.now();
    await Promise.all(
      this.subjects(subject).map(async (c) => {
        const { kind, id } = c;
        const limits = this.policy[kind];
        const n = await this.ephemeral.increment(this.key(c, 'n'), limits.windowMs);
        // the window's end is the stored one while it is open (see LockoutStore.putLockoutState)
        const row: LockoutRecord = { counter: this.counterName(c), subject: id, failures: n, windowEndsAt: now + limits.windowMs, delayedUntil: 0, lockedUntil: 0 };
        if (n >= limits.lockAfter) {
          row.lockedUntil = now + limits.lockMs;
          await this.ephemeral.set(this.key(c, 'lock'), String(now + limits.lockMs), limits.lockMs);
          // A locked subject makes no further attempts, so each lock set here is a new lock.
          for (const l of this.lockListeners) {
            try {
              await l({ kind, id, until: now + limits.lockMs, failures: n, ...(c.slot === 'account-factor' ? { step: 'factor' as const } : {}) });
            } catch {
              // The lock holds whatever a listener does; reporting it is the listener's concern.
            }
          }
        } else if (n > limits.freeAttempts) {
          const delay = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** (n - limits.freeAttempts - 1));
          row.delayedUntil = now + delay;
          await this.ephemeral.set(this.key(c, 'until'), String(now + delay), delay);
        }
        await this.persist((store) => store.putLockoutState(row, now));
      }),
    );
  }

  /** Clears the account's counters of the attempt's step after a successful attempt. */
  async recordSuccess(subject: AttemptSubject): Promise<void> {
    if (subject.account === undefined) return;
    await this.ready();
    const c = this.account(subject.account, subject.step);
    // only an account with failures has a row to clear: most sign-ins write nothing here
    const failures = this.durable === undefined ? 0 : await this.ephemeral.increment(this.key(c, 'n'), this.policy.account.windowMs, 0);
    await this.clear(c, false);
    // a row left (the store did not take the delete) only counts more failures after a restart: the success stands
    if (failures > 0) await this.persist((store) => store.clearLockoutState(this.counterName(c), c.id, false, this.clock.now())).catch(() => undefined);
  }

  /**
   * Takes one in-flight slot per subject, then checks the limits with every attempt in
   * flight counted as a failure to come: when that would pass the free attempts, only an
   * attempt with nothing else in flight may run (it then waits its delay like any other).
   * Throws `auth.throttled` or `auth.locked` with nothing held.
   */
  private async reserve(subject: AttemptSubject, counters: Counter[]): Promise<void> {
    const held: Counter[] = [];
    try {
      for (const c of counters) {
        const limits = this.policy[c.kind];
        const inFlight = await this.ephemeral.increment(this.key(c, 'busy'), IN_FLIGHT_TTL_MS);
        held.push(c);
        const others = inFlight - 1;
        if (others <= 0) continue;
        const failures = await this.ephemeral.increment(this.key(c, 'n'), limits.windowMs, 0);
        if (failures + others > (c.kind === 'ip' ? limits.lockAfter - 1 : limits.freeAttempts)) {
          throw new PortcullisError('auth.throttled', 'too many failed attempts: wait before trying again', {
            details: { retryAfterMs: limits.baseDelayMs, subject: c.kind },
          });
        }
      }
      // After the reservation: a failure recorded by an attempt that ended meanwhile is seen.
      await this.check(subject);
    } catch (e) {
      await this.release(held);
      throw e;
    }
  }

  private async release(counters: Counter[]): Promise<void> {
    await Promise.all(
      counters.map(async (c) => {
        try {
          // A counter that expired under an attempt must not go negative (and admit more later).
          if ((await this.ephemeral.increment(this.key(c, 'busy'), IN_FLIGHT_TTL_MS, -1)) < 0) await this.ephemeral.increment(this.key(c, 'busy'), IN_FLIGHT_TTL_MS, 1);
        } catch {
          // Left held, the slot only makes the limits stricter until it expires.
        }
      }),
    );
  }

  /**
   * Runs `attempt` if allowed; counts a failure when it throws one of `failureCodes`
   * (other errors, such as a store outage, are not the user's failure and pass through).
   */
  async guard<T>(
    subject: AttemptSubject,
    attempt: () => Promise<T>,
    failureCodes: readonly string[] = ['auth.invalid-credentials', 'mfa.invalid-code', 'mfa.code-expired', 'mfa.code-replayed'],
  ): Promise<T> {
    await this.check(subject);
    const counters = this.subjects(subject);
    await this.reserve(subject, counters);
    try {
      let result: T;
      try {
        result = await attempt();
      } catch (e) {
        if (e instanceof PortcullisError && failureCodes.includes(e.code)) await this.recordFailure(subject);
        throw e;
      }
      await this.recordSuccess(subject);
      return result;
    } finally {
      await this.release(counters);
    }
  }

  /** An address's state, or an account's over both steps (failures added up, the later block). */
  async state(kind: Kind, subjectId: string): Promise<LockoutState> {
    await this.ready();
    const counters = kind === 'ip' ? [{ kind, id: this.idOf(kind, subjectId), slot: 'ip' }] : [this.account(subjectId), this.account(subjectId, 'factor')];
    const states = await Promise.all(counters.map((c) => this.counterState(c)));
    return {
      failures: states.reduce((n, s) => n + s.failures, 0),
      blockedUntil: Math.max(...states.map((s) => s.blockedUntil)),
      locked: states.some((s) => s.locked),
    };
  }

  private async counterState(c: Counter): Promise<LockoutState> {
    const now = this.clock.now();
    const [n, lock, until] = await Promise.all([
      // A counter is read by adding 0 (`get` reads only values written with `set`).
      this.ephemeral.increment(this.key(c, 'n'), this.policy[c.kind].windowMs, 0),
      this.ephemeral.get(this.key(c, 'lock')),
      this.ephemeral.get(this.key(c, 'until')),
    ]);
    const lockedUntil = lock !== undefined && Number(lock) > now ? Number(lock) : 0;
    const delayedUntil = until !== undefined && Number(until) > now ? Number(until) : 0;
    return { failures: n, blockedUntil: Math.max(lockedUntil, delayedUntil), locked: lockedUntil > 0 };
  }

  /** Admin unlock: clears the lock, the delay and the failure count of an account (password and second factor). */
  async unlockAccount(account: string): Promise<void> {
    await this.clear(this.account(account), true);
    await this.clear(this.account(account, 'factor'), true);
  }

  /**
   * Forgets an account whose user was deleted: every count, delay and lock of both steps,
   * in the ephemeral store and the durable one (the rows are data about a deleted person).
   */
  forgetAccount(account: string): Promise<void> {
    return this.unlockAccount(account);
  }

  /**
   * Admin unlock of a client address (any spelling of it: `::ffff:10.0.0.1` is `10.0.0.1`);
   * for IPv6, of the prefix it is counted by (any address in the /64 unlocks the /64).
   */
  unlockIp(ip: string): Promise<void> {
    return this.clear({ kind: 'ip', id: this.idOf('ip', ip), slot: 'ip' }, true);
  }

  /** What an address's attempts are counted under: the address itself, or for IPv6 its prefix (`2001:db8:1:2::/64`). */
  countedAs(ip: string): string {
    return this.idOf('ip', ip);
  }

  private async clear(c: Counter, includingLock: boolean): Promise<void> {
    if (includingLock) {
      await this.ready();
      // the durable row first: an unlock that the store did not take is refused, not undone at the next restart
      await this.persist((store) => store.clearLockoutState(this.counterName(c), c.id, true, this.clock.now()));
    }
    const parts = includingLock ? (['n', 'until', 'lock'] as const) : (['n', 'until'] as const);
    await Promise.all(parts.map((p) => this.ephemeral.delete(this.key(c, p))));
  }
}

/**
 * One spelling per client address, so a lock holds (and an unlock lifts it) however the
 * address is written: an IPv4-mapped IPv6 address is its IPv4 address, IPv6 is
 * compressed and lower-case (RFC 5952). Undefined when `text` is not an IP address.
 *
 * @example canonicalAddress('::FFFF:10.0.0.1') // '10.0.0.1'
 */
export function canonicalAddress(text: string): string | undefined {
  const v = isIP(text);
  if (v === 4) return text;
  if (v !== 6) return undefined;
  // the WHATWG URL parser writes IPv6 in its RFC 5952 form (zone ids are not accepted, and not addresses of a peer)
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped === null) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * The client address as the lockout counts it: `canonicalAddress`, and for an IPv6
 * address (an IPv4-mapped one is IPv4 by then) the network of its first `prefix` bits,
 * written `network/prefix` (`/128` is the address itself, written alone). Undefined when
 * `text` is not an IP address.
 *
 * @example countedAddress('2001:DB8:1:2:a:b:c:d', 64) // '2001:db8:1:2::/64'
 */
export function countedAddress(text: string, prefix: number): string | undefined {
  const a = canonicalAddress(text);
  if (a === undefined || !a.includes(':') || prefix >= 128) return a;
  const [head = '', tail] = a.split('::');
  const pieces = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const left = pieces(head);
  const right = tail === undefined ? [] : pieces(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const masked = groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, prefix - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${canonicalAddress(masked.map((g) => g.toString(16)).join(':'))}/${prefix}`;
}
