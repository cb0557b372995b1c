/**
 * Recovery codes: ten random codes of 80 bits each (16 Crockford base32 characters,
 * shown as `XXXX-XXXX-XXXX-XXXX`), shown once, stored as SHA-256 bound to the user
 * (80 bits is beyond offline guessing, so a fast hash is enough), each usable once.
 * Generating a new set voids the old one. Input is forgiving: case, dashes, spaces and
 * the look-alikes O/0 and I/L/1 do not matter.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import type { ChallengeOutput, EnrollInput, EnrollOutput, Factor, FactorSubject } from './factor.js';
import type { RecoveryCodeStore } from './store.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32
export const RECOVERY_CODE_COUNT = 10;
const CODE_CHARS = 16;

/** Upper-cases, drops separators, maps look-alikes (Crockford decoding rules). */
export function normalizeRecoveryCode(input: string): string {
  return input
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

function newCode(): string {
  const bytes = randomBytes(CODE_CHARS);
  let s = '';
  // 256 is a multiple of 32, so `b & 31` is uniform.
  for (const b of bytes) s += ALPHABET[b & 31];
  return s.match(/.{4}/g)!.join('-');
}

/** SHA-256 over a domain label, the user and the normalised code, hex. */
export function hashRecoveryCode(userId: string, code: string): string {
  return createHash('sha256').update(`portcullis/recovery-code/v1\0${userId}\0${normalizeRecoveryCode(code)}`).digest('hex');
}

export class RecoveryCodesFactor implements Factor {
  readonly id = 'recovery-code';
  /** No RFC 8176 value fits better: a recovery code is a one-time password on paper. */
  readonly amr = ['otp'] as const;

  constructor(private readonly deps: { store: RecoveryCodeStore; clock: Clock }) {}

  /** Generates a new set (the old one stops working) and returns it, once. */
  async enroll(input: EnrollInput): Promise<EnrollOutput> {
    return { factorId: this.id, pendingConfirmation: false, codes: await this.regenerate(input.userId) };
  }

  /** The same as `enroll`, by its everyday name. */
  async regenerate(userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
    await this.deps.store.replaceRecoveryCodes(userId, codes.map((c) => hashRecoveryCode(userId, c)), this.deps.clock.now());
    return codes;
  }

  /**
   * Recovery codes are active as soon as they are generated and are never a confirmed
   * enrolment of their own: "confirming" them proves nothing, so it is refused.
   */
  async confirm(_subject: FactorSubject, _code: string): Promise<void> {
    throw new PortcullisError('mfa.not-enrollable', 'recovery codes are not a second factor of their own');
  }

  async challenge(subject: FactorSubject): Promise<ChallengeOutput> {
    if (!(await this.isEnrolled(subject.userId))) throw new PortcullisError('mfa.not-enrolled', 'this user has no recovery codes left');
    return { sent: false };
  }

  async verify(subject: FactorSubject, code: string): Promise<void> {
    const records = await this.deps.store.listRecoveryCodes(subject.userId);
    if (records.length === 0) throw new PortcullisError('mfa.not-enrolled', 'this user has no recovery codes');
    const given = Buffer.from(hashRecoveryCode(subject.userId, code), 'hex');
    let match: (typeof records)[number] | undefined;
    // Compare with every record, used or not, so timing does not tell which one matched.
    for (const r of records) {
      if (timingSafeEqual(Buffer.from(r.hash, 'hex'), given) && match === undefined) match = r;
    }
    if (!match) throw new PortcullisError('mfa.invalid-code', 'invalid recovery code');
    if (match.usedAt !== null || !(await this.deps.store.markRecoveryCodeUsed(subject.userId, match.index, match.hash, this.deps.clock.now()))) {
      throw new PortcullisError('mfa.code-replayed', 'this recovery code was already used');
    }
  }

  /** How many unused codes remain (for "you have 2 codes left" prompts). */
  async remaining(userId: string): Promise<number> {
    return (await this.deps.store.listRecoveryCodes(userId)).filter((r) => r.usedAt === null).length;
  }

  async isEnrolled(userId: string): Promise<boolean> {
    return (await this.remaining(userId)) > 0;
  }

  remove(userId: string): Promise<void> {
    return this.deps.store.deleteRecoveryCodes(userId);
  }
}
