/**
 * Second factors as strategies keyed by a string id (`totp`, `email`, `sms`,
 * `recovery-code`), each behind one interface: enrol, confirm the enrolment with a
 * first valid code, challenge (send a code, where the factor sends one) and verify.
 * Every method throws a PortcullisError (`mfa.*`); none returns a secret except where
 * the user must see it once (the TOTP seed and QR code, recovery codes).
 */
import { PortcullisError } from '../core/errors.js';
import type { EnrollmentStore, FactorEnrollment } from './store.js';

/** Who the call is for. */
export interface FactorSubject {
  userId: string;
  /** The client address, for the brute-force limits (guardFactor). */
  ip?: string;
  /**
   * The sign-in this call belongs to (the interaction id): a code a factor sends for one
   * sign-in (`challenge`) is accepted (`verify`) in that sign-in only.
   */
  attempt?: string;
}

export interface EnrollInput extends FactorSubject {
  /** Where codes go (`email`: an address, `sms`: an E.164 number), or the account label shown in the authenticator app (`totp`). */
  address?: string;
}

export interface EnrollOutput {
  factorId: string;
  /** Whether a code must now be confirmed (`confirm`) before the factor is active. */
  pendingConfirmation: boolean;
  /** TOTP: the `otpauth://` URI, its QR code as SVG, and the base32 seed to type by hand. Shown once. */
  otpauthUri?: string;
  qrSvg?: string;
  secretBase32?: string;
  /** Recovery codes: the new set, shown once. */
  codes?: string[];
  /** One-time codes: the masked destination (`a***@example.com`, `+33******89`). */
  sentTo?: string;
  expiresAt?: number;
}

export interface ChallengeOutput {
  /** Whether something was sent (false for TOTP and recovery codes: the user already holds the code). */
  sent: boolean;
  sentTo?: string;
  expiresAt?: number;
}

export interface Factor {
  /** Strategy id. */
  readonly id: string;
  /** Authentication method references (RFC 8176) a success adds to the `amr` claim. */
  readonly amr: readonly string[];
  /** Starts an enrolment; throws `mfa.already-enrolled` when one is confirmed (recovery codes: regenerates). */
  enroll(input: EnrollInput): Promise<EnrollOutput>;
  /** Completes an enrolment with a first valid code. */
  confirm(subject: FactorSubject, code: string): Promise<void>;
  /** Prepares a sign-in: sends a code where the factor sends one. Throws `mfa.not-enrolled`. */
  challenge(subject: FactorSubject): Promise<ChallengeOutput>;
  /** Checks a sign-in code; resolves on success, throws `mfa.invalid-code`, `mfa.code-expired`, `mfa.code-replayed` or `mfa.not-enrolled`. */
  verify(subject: FactorSubject, code: string): Promise<void>;
  /** Whether the user has a confirmed enrolment. */
  isEnrolled(userId: string): Promise<boolean>;
  /** Removes the enrolment (and, for recovery codes, the set). */
  remove(userId: string): Promise<void>;
  /** Recovery codes: how many unused codes the user holds (shown on the account page, sent with `user.recovery-code-used`). */
  remaining?(userId: string): Promise<number>;
}

/**
 * The error for a confirmation whose pending enrolment changed after it was read (the
 * store's `confirmEnrollment` refused): `mfa.already-enrolled` when a concurrent
 * confirmation won, else `mfa.not-enrolled` (removed, or started again with a new seed or
 * address, which the code was not for).
 *
 * @example
 * if (!(await store.confirmEnrollment(e, now))) throw await changedMeanwhile(store, e, 'TOTP is already set up for this user');
 */
export async function changedMeanwhile(store: Pick<EnrollmentStore, 'getEnrollment'>, e: FactorEnrollment, alreadyEnrolled: string): Promise<PortcullisError> {
  const now = await store.getEnrollment(e.userId, e.factorId);
  if (now?.status === 'confirmed') return new PortcullisError('mfa.already-enrolled', alreadyEnrolled);
  return new PortcullisError('mfa.not-enrolled', 'this enrolment was removed or started again meanwhile: start it again');
}

/** Masks an e-mail address or phone number for display. */
export function maskAddress(address: string): string {
  const at = address.indexOf('@');
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  if (address.length <= 4) return '*'.repeat(address.length);
  return `${address.slice(0, 3)}${'*'.repeat(Math.max(0, address.length - 5))}${address.slice(-2)}`;
}
