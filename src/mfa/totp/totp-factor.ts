/**
 * TOTP as a second factor (RFC 6238). Enrolment makes a random seed, seals it with the
 * SecretBox and shows the `otpauth://` URI and its QR code (SVG); the first valid code
 * confirms it. Verification accepts the current time step ±`window` (default 1, RFC
 * 6238 §5.2's "at most one time step" of network delay), compares in constant time, and
 * accepts each code once: the user's last accepted step only moves forward, by an atomic
 * compare-and-advance on the enrolment in the durable store, so the replay guard holds
 * across nodes and across restarts (an ephemeral store starts empty after one).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import QRCode from 'qrcode';
import type { Clock } from '../../core/clock.js';
import { PortcullisError } from '../../core/errors.js';
import { changedMeanwhile, type EnrollInput, type EnrollOutput, type ChallengeOutput, type Factor, type FactorSubject } from '../factor.js';
import type { SecretBox } from '../secret-box.js';
import type { EnrollmentStore, FactorEnrollment } from '../store.js';
import { base32, hotp, otpauthUri, SEED_BYTES, timeStep, type OtpAlgorithm } from './hotp.js';

export interface TotpOptions {
  /** Shown in the authenticator app (the `issuer` of the key URI). */
  issuer: string;
  /** SHA1 by default: the only one every authenticator app supports. */
  algorithm?: OtpAlgorithm;
  digits?: 6 | 7 | 8;
  period?: number;
  /** Steps accepted either side of the current one (default 1). */
  window?: number;
}

export interface TotpDeps {
  store: EnrollmentStore;
  box: SecretBox;
  clock: Clock;
}

const aad = (userId: string): string => `totp:${userId}`;

export class TotpFactor implements Factor {
  readonly id = 'totp';
  readonly amr = ['otp'] as const;
  private readonly algorithm: OtpAlgorithm;
  private readonly digits: number;
  private readonly period: number;
  private readonly window: number;

  constructor(
    private readonly deps: TotpDeps,
    private readonly options: TotpOptions,
  ) {
    this.algorithm = options.algorithm ?? 'SHA1';
    this.digits = options.digits ?? 6;
    this.period = options.period ?? 30;
    this.window = options.window ?? 1;
  }

  async enroll(input: EnrollInput): Promise<EnrollOutput> {
    const existing = await this.deps.store.getEnrollment(input.userId, this.id);
    if (existing?.status === 'confirmed') throw new PortcullisError('mfa.already-enrolled', 'TOTP is already set up for this user');
    const seed = randomBytes(SEED_BYTES[this.algorithm]);
    const now = this.deps.clock.now();
    const started = await this.deps.store.putPendingEnrollment({
      userId: input.userId,
      factorId: this.id,
      status: 'pending',
      data: { sealedSecret: await this.deps.box.seal(seed, aad(input.userId)), algorithm: this.algorithm, digits: this.digits, period: this.period },
      createdAt: now,
      confirmedAt: null,
    });
    // confirmed since it was read above (another tab or node): that factor stays, never turned back into a pending one
    if (!started) throw new PortcullisError('mfa.already-enrolled', 'TOTP is already set up for this user');
    const params = { algorithm: this.algorithm, digits: this.digits, period: this.period };
    const uri = otpauthUri(seed, this.options.issuer, input.address ?? input.userId, params);
    const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { factorId: this.id, pendingConfirmation: true, otpauthUri: uri, qrSvg, secretBase32: base32(seed) };
  }

  async confirm(subject: FactorSubject, code: string): Promise<void> {
    const e = await this.deps.store.getEnrollment(subject.userId, this.id);
    if (!e) throw new PortcullisError('mfa.not-enrolled', 'start a TOTP enrolment first');
    if (e.status === 'confirmed') throw new PortcullisError('mfa.already-enrolled', 'TOTP is already set up for this user');
    await this.check(e, code);
    // the enrolment the code was checked against, unless removed or started again meanwhile
    if (!(await this.deps.store.confirmEnrollment(e, this.deps.clock.now()))) throw await changedMeanwhile(this.deps.store, e, 'TOTP is already set up for this user');
  }

  async challenge(subject: FactorSubject): Promise<ChallengeOutput> {
    await this.confirmed(subject.userId);
    return { sent: false };
  }

  async verify(subject: FactorSubject, code: string): Promise<void> {
    await this.check(await this.confirmed(subject.userId), code);
  }

  async isEnrolled(userId: string): Promise<boolean> {
    return (await this.deps.store.getEnrollment(userId, this.id))?.status === 'confirmed';
  }

  async remove(userId: string): Promise<void> {
    // the last accepted step goes with the enrolment: a new seed's first code is not "already used"
    await this.deps.store.deleteEnrollment(userId, this.id);
  }

  private async confirmed(userId: string): Promise<FactorEnrollment> {
    const e = await this.deps.store.getEnrollment(userId, this.id);
    if (e?.status !== 'confirmed') throw new PortcullisError('mfa.not-enrolled', 'TOTP is not set up for this user');
    return e;
  }

  private async check(e: FactorEnrollment, input: string): Promise<void> {
    const algorithm = e.data.algorithm as OtpAlgorithm;
    const digits = Number(e.data.digits);
    const period = Number(e.data.period);
    const code = input.replace(/\s+/g, '');
    if (code.length !== digits || !/^\d+$/.test(code)) throw new PortcullisError('mfa.invalid-code', 'invalid code');
    const seed = await this.deps.box.open(String(e.data.sealedSecret), aad(e.userId));
    const current = timeStep(this.deps.clock.now(), period);
    const given = Buffer.from(code);
    let matched: number | undefined;
    // Every candidate is computed and compared, so timing does not tell which step matched.
    for (let d = -this.window; d <= this.window; d++) {
      const ok = timingSafeEqual(Buffer.from(hotp(seed, current + d, algorithm, digits)), given);
      if (ok && matched === undefined) matched = current + d;
    }
    seed.fill(0);
    if (matched === undefined) throw new PortcullisError('mfa.invalid-code', 'invalid code');
    // RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after
    // the successful validation has been issued for the first OTP". A code is accepted
    // only if its step is later than the user's marker, and the marker then moves to the
    // later of that step and the current one, in one compare-and-advance across nodes.
    // So no code is accepted twice or after a newer one, and once a code was accepted,
    // no code for the current step or an earlier one is, however the requests raced. The
    // marker is durable: an ephemeral one is gone after a restart, and the code with it.
    if (!(await this.deps.store.advanceLastStep(e.userId, this.id, matched, Math.max(matched, current)))) {
      throw new PortcullisError('mfa.code-replayed', 'this code was already used; wait for the next one');
    }
  }
}
