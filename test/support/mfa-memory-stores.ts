/**
 * In-memory MfaStore and PasswordStore for the identity and MFA tests, and a real
 * AES-256-GCM SecretBox with a random key (so tampering and aad binding are tested for
 * real), and an OTP sender that keeps what it is given. Durable adapters come later in src/store/.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PortcullisError } from '../../src/core/errors.js';
import type { PasswordStore } from '../../src/identity/passwords/store.js';
import type { SecretBox } from '../../src/mfa/secret-box.js';
import type { FactorEnrollment, MfaStore, RecoveryCodeRecord } from '../../src/mfa/store.js';
import type { OtpMessage, OtpSender } from '../../src/mfa/otp/senders/sender.js';

export class MemoryMfaStore implements MfaStore {
  readonly enrollments = new Map<string, FactorEnrollment>();
  /** Each enrolment's last accepted step, kept while its data is unchanged. */
  private readonly lastSteps = new Map<string, number>();
  readonly recovery = new Map<string, RecoveryCodeRecord[]>();

  async getEnrollment(userId: string, factorId: string) {
    const e = this.enrollments.get(`${userId}\0${factorId}`);
    return e && structuredClone(e);
  }
  async putEnrollment(e: FactorEnrollment) {
    const k = `${e.userId}\0${e.factorId}`;
    const before = this.enrollments.get(k);
    if (before === undefined || JSON.stringify(before.data) !== JSON.stringify(e.data)) this.lastSteps.delete(k);
    this.enrollments.set(k, structuredClone(e));
  }
  async putPendingEnrollment(e: FactorEnrollment) {
    const k = `${e.userId}\0${e.factorId}`;
    const before = this.enrollments.get(k);
    if (before?.status === 'confirmed') return false;
    if (before === undefined || JSON.stringify(before.data) !== JSON.stringify(e.data)) this.lastSteps.delete(k);
    this.enrollments.set(k, structuredClone({ ...e, status: 'pending' as const, confirmedAt: null }));
    return true;
  }
  async advanceLastStep(userId: string, factorId: string, next: number, to: number) {
    const k = `${userId}\0${factorId}`;
    const last = this.lastSteps.get(k);
    if (!this.enrollments.has(k) || (last !== undefined && last >= next)) return false;
    this.lastSteps.set(k, to);
    return true;
  }
  async confirmEnrollment(pending: FactorEnrollment, confirmedAt: number) {
    const k = `${pending.userId}\0${pending.factorId}`;
    const e = this.enrollments.get(k);
    if (e?.status !== 'pending' || e.createdAt !== pending.createdAt || JSON.stringify(e.data) !== JSON.stringify(pending.data)) return false;
    this.enrollments.set(k, { ...e, status: 'confirmed', confirmedAt });
    return true;
  }
  async deleteEnrollment(userId: string, factorId: string) {
    this.enrollments.delete(`${userId}\0${factorId}`);
    this.lastSteps.delete(`${userId}\0${factorId}`);
  }
  async listEnrollments(userId: string) {
    return [...this.enrollments.values()].filter((e) => e.userId === userId).map((e) => structuredClone(e));
  }
  async replaceRecoveryCodes(userId: string, hashes: string[]) {
    this.recovery.set(userId, hashes.map((hash, index) => ({ index, hash, usedAt: null })));
  }
  async listRecoveryCodes(userId: string) {
    return (this.recovery.get(userId) ?? []).map((r) => ({ ...r }));
  }
  async markRecoveryCodeUsed(userId: string, index: number, hash: string, now: number) {
    const r = this.recovery.get(userId)?.find((x) => x.index === index);
    if (!r || r.hash !== hash || r.usedAt !== null) return false;
    r.usedAt = now;
    return true;
  }
  async deleteRecoveryCodes(userId: string) {
    this.recovery.delete(userId);
  }
}

export class MemoryPasswordStore implements PasswordStore {
  readonly hashes = new Map<string, string>();
  async getPasswordHash(userId: string) {
    return this.hashes.get(userId);
  }
  async replacePasswordHash(userId: string, expected: string | null, next: string) {
    if ((this.hashes.get(userId) ?? null) !== expected) return false;
    this.hashes.set(userId, next);
    return true;
  }
}

/** `v1.<iv>.<ciphertext+tag>` under a random AES-256-GCM key. */
export class TestSecretBox implements SecretBox {
  private readonly key = randomBytes(32);
  async seal(plain: Uint8Array, aad: string): Promise<string> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    return `v1.${iv.toString('base64url')}.${ct.toString('base64url')}`;
  }
  async open(sealed: string, aad: string): Promise<Uint8Array> {
    try {
      const [, iv, body] = sealed.split('.');
      const buf = Buffer.from(body!, 'base64url');
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv!, 'base64url')).setAAD(Buffer.from(aad));
      d.setAuthTag(buf.subarray(buf.length - 16));
      return new Uint8Array(Buffer.concat([d.update(buf.subarray(0, buf.length - 16)), d.final()]));
    } catch (e) {
      throw new PortcullisError('crypto.decrypt-failed', 'sealed secret does not open', { cause: e });
    }
  }
}

/** An OTP sender that keeps every message (`sent`), and fails while `fail` is set, as a provider that is down. */
export class CapturingSender implements OtpSender {
  readonly id = 'capture';
  readonly sent: OtpMessage[] = [];
  fail = false;
  async send(m: OtpMessage) {
    if (this.fail) throw new Error('provider down');
    this.sent.push(m);
  }
  last() {
    return this.sent.at(-1)!;
  }
}
