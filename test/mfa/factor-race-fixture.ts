/**
 * The set-up the enrolment race files share (an enrolment or confirmation with another
 * request landing in the middle): a TOTP factor and an SMS factor over in-memory stores on
 * a frozen clock, each test building its own, and the code an authenticator shows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Secret } from 'otpauth';
import { FrozenClock } from '../../src/core/clock.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { OtpFactor } from '../../src/mfa/otp/otp-factor.js';
import { hotp, timeStep } from '../../src/mfa/totp/hotp.js';
import { TotpFactor } from '../../src/mfa/totp/totp-factor.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { CapturingSender, MemoryMfaStore, TestSecretBox } from '../support/mfa-memory-stores.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 15);

export const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

/** The TOTP code (SHA-1, 6 digits, 30 s) for the base32 seed at `ms`. */
export const codeFor = (secretBase32: string, ms: number) => hotp(Secret.fromBase32(secretBase32).bytes, timeStep(ms, 30), 'SHA1', 6);

/** A TOTP factor (issuer Portcullis Test) sealing its seeds with `box`. */
export function totpSetup() {
  const clock = new FrozenClock(T0);
  const store = new MemoryMfaStore();
  const box = new TestSecretBox();
  const factor = new TotpFactor({ store, box, clock }, { issuer: 'Portcullis Test' });
  return { clock, store, box, factor };
}

/** An SMS factor whose codes `sender` captures. */
export function smsSetup() {
  const clock = new FrozenClock(T0);
  const ephemeral = new TestEphemeralStore(clock);
  const store = new MemoryMfaStore();
  const sender = new CapturingSender();
  const factor = new OtpFactor({ store, ephemeral, codes: new OneTimeCodes(ephemeral, clock, randomBytes(32)), sender, clock }, { channel: 'sms', issuer: 'Portcullis' });
  return { clock, ephemeral, store, sender, factor };
}
