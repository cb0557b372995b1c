/**
 * Short-lived one-time codes kept in the ephemeral store (every node sees them): random
 * decimal codes (6+ digits), stored only as an HMAC under a server key (a 6-digit code
 * hashed without a key is reversed by trying a million values), expiring after 5
 * minutes, accepted once (`consumeOnce`), and burnt after `maxAttempts` wrong guesses.
 * A code may be bound to what it was sent for (`boundTo`: an enrolment's address), and
 * is then accepted only while the caller still names the same.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import { PortcullisError } from '../../core/errors.js';
import { randomId } from '../../core/ids.js';

export interface OneTimeCodeOptions {
  /** 6 to 10 (default 6). */
  digits?: number;
  /** Default 5 minutes. */
  ttlMs?: number;
  /** Wrong guesses one code survives (default 5). */
  maxAttempts?: number;
}

interface StoredCode {
  id: string;
  /** HMAC-SHA256(key, slot ‖ id ‖ code), base64url. */
  mac: string;
  /** HMAC-SHA256(key, "bound" ‖ slot ‖ boundTo), base64url: what the code was sent for, never in clear. Absent in a code stored before: refused. */
  bound?: string;
  expiresAt: number;
}

export interface IssuedCode {
  code: string;
  expiresAt: number;
}

/**
 * @example
 * const codes = new OneTimeCodes(ephemeral, clock, hmacKey);
 * const { code } = await codes.issue('email:sign-in:u1');
 * await codes.verify('email:sign-in:u1', code);
 */
export class OneTimeCodes {
  readonly digits: number;
  readonly ttlMs: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly clock: Clock,
    /** At least 32 bytes, the same on every node (derived from the master key). */
    private readonly hmacKey: Uint8Array,
    options: OneTimeCodeOptions = {},
  ) {
    if (hmacKey.length < 32) throw new PortcullisError('config.invalid', 'the one-time code HMAC key must be at least 32 bytes');
    this.digits = options.digits ?? 6;
    if (!Number.isInteger(this.digits) || this.digits < 6 || this.digits > 10) {
      throw new PortcullisError('config.invalid', 'one-time codes must have 6 to 10 digits');
    }
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  private key(slot: string): string {
    return `mfa:otp:${slot}`;
  }

  private mac(slot: string, id: string, code: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(`${slot}\0${id}\0${code}`).digest();
  }

  private bound(slot: string, boundTo: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(`bound\0${slot}\0${boundTo}`).digest();
  }

  /**
   * Issues a new code for `slot` (e.g. `email:sign-in:<userId>`); the previous one stops
   * working. `boundTo` names what the code is sent for (the address and its enrolment):
   * `verify` accepts it only with the same.
   */
  async issue(slot: string, boundTo = ''): Promise<IssuedCode> {
    const code = String(randomInt(0, 10 ** this.digits)).padStart(this.digits, '0');
    const id = randomId(12);
    const expiresAt = this.clock.now() + this.ttlMs;
    const stored: StoredCode = { id, mac: this.mac(slot, id, code).toString('base64url'), bound: this.bound(slot, boundTo).toString('base64url'), expiresAt };
    await this.ephemeral.set(this.key(slot), JSON.stringify(stored), this.ttlMs);
    return { code, expiresAt };
  }

  /** Withdraws the current code of `slot` (e.g. when it could not be delivered). */
  revoke(slot: string): Promise<void> {
    return this.ephemeral.delete(this.key(slot));
  }

  /**
   * Resolves when `input` is the live, unused code of `slot`, issued for `boundTo`; throws
   * `mfa.code-expired` (also for a code issued for something else: an address since
   * replaced or removed), `mfa.invalid-code` or `mfa.code-replayed`.
   */
  async verify(slot: string, input: string, boundTo = ''): Promise<void> {
    const raw = await this.ephemeral.get(this.key(slot));
    const stored = raw === undefined ? undefined : (JSON.parse(raw) as StoredCode);
    const bound = Buffer.from(stored?.bound ?? '', 'base64url');
    if (!stored || stored.expiresAt <= this.clock.now() || bound.length !== 32 || !timingSafeEqual(bound, this.bound(slot, boundTo))) {
      throw new PortcullisError('mfa.code-expired', 'the code has expired; request a new one');
    }
    // The attempt is counted before the comparison (one atomic increment), so concurrent
    // guesses on any node get distinct numbers and at most maxAttempts are ever compared.
    const attempt = await this.ephemeral.increment(`${this.key(slot)}:attempts:${stored.id}`, this.ttlMs);
    if (attempt > this.maxAttempts) {
      await this.revoke(slot);
      throw new PortcullisError('mfa.code-expired', 'the code has expired; request a new one');
    }
    const code = input.replace(/\s+/g, '');
    const ok = /^\d+$/.test(code) && code.length === this.digits && timingSafeEqual(this.mac(slot, stored.id, code), Buffer.from(stored.mac, 'base64url'));
    if (!ok) {
      if (attempt >= this.maxAttempts) await this.revoke(slot);
      throw new PortcullisError('mfa.invalid-code', 'invalid code');
    }
    const remaining = Math.max(1, stored.expiresAt - this.clock.now());
    if (!(await this.ephemeral.consumeOnce(`${this.key(slot)}:used:${stored.id}`, remaining))) {
      throw new PortcullisError('mfa.code-replayed', 'this code was already used; request a new one');
    }
  }
}
