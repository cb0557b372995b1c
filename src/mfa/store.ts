/** What second factors need from durable storage. */

export type EnrollmentStatus = 'pending' | 'confirmed';

export interface FactorEnrollment {
  userId: string;
  /** The factor strategy id (`totp`, `email`, `sms`). */
  factorId: string;
  status: EnrollmentStatus;
  /**
   * Factor data, never a plaintext secret: TOTP keeps its seed sealed by the SecretBox
   * (`sealedSecret`) with `algorithm`, `digits`, `period`; e-mail and SMS keep `address`.
   */
  data: Record<string, string | number>;
  createdAt: number;
  confirmedAt: number | null;
}

export interface RecoveryCodeRecord {
  /** Position in the set (0–9). */
  index: number;
  /** Hex SHA-256 of the normalised code bound to the user (never the code). */
  hash: string;
  usedAt: number | null;
}

export interface EnrollmentStore {
  getEnrollment(userId: string, factorId: string): Promise<FactorEnrollment | undefined>;
  /**
   * Inserts or replaces the user's enrolment for that factor. A replacement keeps the
   * last accepted step (`advanceLastStep`) when `data` is unchanged and
   * clears it otherwise (a new seed has no used steps).
   */
  putEnrollment(enrollment: FactorEnrollment): Promise<void>;
  /**
   * Starts an enrolment: inserts `pending` (status `pending`), or replaces the user's
   * pending enrolment of that factor with it (the last step as `putEnrollment` keeps it),
   * and returns true. A confirmed enrolment is left as it is and the answer is false. One
   * conditional write: an enrolment confirmed since the caller read it (another tab, another
   * node) is never turned back into a pending one with a seed or address nobody proved.
   */
  putPendingEnrollment(pending: FactorEnrollment): Promise<boolean>;
  /**
   * Compare-and-advance of the enrolment's last accepted time step (TOTP's replay guard):
   * when the enrolment exists and its last step is unset or less than `next`, sets it to
   * `to` (never less than `next`) and returns true; otherwise changes nothing and returns
   * false. One conditional write: of concurrent callers (any node) with the same `next`
   * exactly one wins, and the step never moves back. Deleting the enrolment deletes it.
   */
  advanceLastStep(userId: string, factorId: string, next: number, to: number): Promise<boolean>;
  /**
   * Confirms `pending` (status `confirmed`, `confirmedAt`) if the user's enrolment of that
   * factor is still exactly it: pending, with the same `data` and `createdAt`; keeps its last
   * step. One conditional write: an enrolment removed, started again or confirmed since it
   * was read is left as it is (never brought back) and the answer is false.
   */
  confirmEnrollment(pending: FactorEnrollment, confirmedAt: number): Promise<boolean>;
  deleteEnrollment(userId: string, factorId: string): Promise<void>;
  listEnrollments(userId: string): Promise<FactorEnrollment[]>;
}

export interface RecoveryCodeStore {
  /** Replaces the user's whole set atomically: the old codes stop working. */
  replaceRecoveryCodes(userId: string, hashes: string[], now: number): Promise<void>;
  listRecoveryCodes(userId: string): Promise<RecoveryCodeRecord[]>;
  /**
   * Marks one code used if it is still unused and still has `hash` (compare-and-set):
   * under concurrent calls exactly one returns true.
   */
  markRecoveryCodeUsed(userId: string, index: number, hash: string, now: number): Promise<boolean>;
  deleteRecoveryCodes(userId: string): Promise<void>;
}

export interface MfaStore extends EnrollmentStore, RecoveryCodeStore {}
