/**
 * A one-time code is good only for the enrolment it was sent for: the address it went to,
 * as it stood when it was sent. A code sent to an address the user then removed (or that
 * was replaced while the code was on its way) proves nothing about the address now on file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { OtpFactor } from '../../src/mfa/otp/otp-factor.js';
import type { FactorEnrollment } from '../../src/mfa/store.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { CapturingSender, MemoryMfaStore } from '../support/mfa-memory-stores.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const OLD = '+33612345689';
const NEW = '+15550001111';
const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

function setup() {
  const clock = new FrozenClock(T0);
  const ephemeral = new TestEphemeralStore(clock);
  const store = new MemoryMfaStore();
  const sender = new CapturingSender();
  const factor = new OtpFactor({ store, ephemeral, codes: new OneTimeCodes(ephemeral, clock, randomBytes(32)), sender, clock }, { channel: 'sms', issuer: 'Portcullis' });
  return { clock, store, sender, factor };
}

test('attack: a sign-in code sent to a number the user removed signs in after a new number is set up — mfa.code-expired', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: OLD });
  await s.factor.confirm({ userId: 'u1' }, s.sender.last().code);
  s.clock.advance(31_000);
  // the holder of the old number (and the password) asks for a code in their own sign-in
  await s.factor.challenge({ userId: 'u1', attempt: 'attacker-signin' });
  const toOldNumber = s.sender.last().code;
  // the user removes the number and sets up a new one, within the code's five minutes
  await s.factor.remove('u1');
  s.clock.advance(31_000);
  await s.factor.enroll({ userId: 'u1', address: NEW });
  await s.factor.confirm({ userId: 'u1' }, s.sender.last().code);
  assert.equal((await s.store.getEnrollment('u1', 'sms'))?.data['address'], NEW);
  await rejectsWith(s.factor.verify({ userId: 'u1', attempt: 'attacker-signin' }, toOldNumber), 'mfa.code-expired');
});

test('attack: the code sent to the first number confirms a second number whose enrolment began meanwhile — mfa.code-expired, the second stays unconfirmed', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: OLD });
  const toFirstNumber = s.sender.last().code;
  s.clock.advance(31_000);
  // The second enrolment has stored its pending number and not yet issued its own code
  // when the first number's code is submitted.
  let confirmed: Promise<void> | undefined;
  const put = s.store.putPendingEnrollment.bind(s.store);
  s.store.putPendingEnrollment = async (e: FactorEnrollment) => {
    const started = await put(e);
    if (e.data['address'] === NEW) confirmed = s.factor.confirm({ userId: 'u1' }, toFirstNumber);
    return started;
  };
  await s.factor.enroll({ userId: 'u1', address: NEW });
  assert.ok(confirmed);
  await rejectsWith(confirmed, 'mfa.code-expired');
  assert.equal((await s.store.getEnrollment('u1', 'sms'))?.status, 'pending');
  // the code the second number received confirms it
  await s.factor.confirm({ userId: 'u1' }, s.sender.last().code);
  const e = await s.store.getEnrollment('u1', 'sms');
  assert.equal(e?.status, 'confirmed');
  assert.equal(e?.data['address'], NEW);
});
