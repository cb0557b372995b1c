/**
 * Attacks on the sending side of e-mail/SMS codes: flooding one phone (harassment) and
 * pumping SMS (cost) through enrolment, which sends to an address nobody has proven yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { OtpFactor } from '../../src/mfa/otp/otp-factor.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { CapturingSender, MemoryMfaStore } from '../support/mfa-memory-stores.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const VICTIM = '+15550001111';

const throttled = (p: Promise<unknown>) =>
  assert.rejects(p, (e: { code?: string; details?: { retryAfterMs?: number } }) => {
    assert.equal(e.code, 'auth.throttled');
    assert.ok((e.details?.retryAfterMs ?? 0) > 0);
    return true;
  });

function setup() {
  const clock = new FrozenClock(T0);
  const ephemeral = new MemoryEphemeralStore({ clock });
  const store = new MemoryMfaStore();
  const sender = new CapturingSender();
  const factor = new OtpFactor({ store, ephemeral, codes: new OneTimeCodes(ephemeral, clock, randomBytes(32)), sender, clock }, { channel: 'sms', issuer: 'Portcullis' });
  return { clock, sender, factor };
}

test('attack: SMS flooding through enrolment — one account asking every 30 s gets 10 codes an hour to a number, then auth.throttled', async () => {
  const s = setup();
  for (let i = 0; i < 10; i++) {
    await s.factor.enroll({ userId: 'attacker', address: VICTIM });
    s.clock.advance(30_000);
  }
  await throttled(s.factor.enroll({ userId: 'attacker', address: VICTIM }));
  // nor to another number from the same account
  await throttled(s.factor.enroll({ userId: 'attacker', address: '+15550002222' }));
  assert.equal(s.sender.sent.length, 10);
  s.clock.advance(HOUR);
  await s.factor.enroll({ userId: 'attacker', address: VICTIM });
  assert.equal(s.sender.sent.length, 11);
});

test('attack: SMS flooding from many accounts — a number being enrolled gets one code per 30 s and 10 an hour, whichever account asks', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'a0', address: VICTIM });
  await throttled(s.factor.enroll({ userId: 'a1', address: VICTIM }));
  assert.equal(s.sender.sent.length, 1);
  for (let i = 1; i < 10; i++) {
    s.clock.advance(30_000);
    await s.factor.enroll({ userId: `a${i}`, address: VICTIM });
  }
  s.clock.advance(30_000);
  await throttled(s.factor.enroll({ userId: 'a10', address: VICTIM }));
  assert.equal(s.sender.sent.length, 10);
  // the refused account was not held back for its own number
  await s.factor.enroll({ userId: 'a10', address: '+15550003333' });
  assert.equal(s.sender.sent.at(-1)!.to, '+15550003333');
});

test('attack: SMS pumping through sign-in codes — 10 codes an hour per user, then auth.throttled', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: VICTIM });
  await s.factor.confirm({ userId: 'u1' }, s.sender.sent.at(-1)!.code);
  s.clock.advance(HOUR);
  for (let i = 0; i < 10; i++) {
    s.clock.advance(30_000);
    await s.factor.challenge({ userId: 'u1', attempt: `a${i}` });
  }
  s.clock.advance(30_000);
  await throttled(s.factor.challenge({ userId: 'u1', attempt: 'a10' }));
  assert.equal(s.sender.sent.length, 11);
});

test('a delivery the provider refused does not count against the hourly cap', async () => {
  const s = setup();
  s.sender.fail = true;
  for (let i = 0; i < 12; i++) await assert.rejects(s.factor.enroll({ userId: 'u1', address: VICTIM }), (e: { code?: string }) => e.code === 'mfa.delivery-failed');
  s.sender.fail = false;
  await s.factor.enroll({ userId: 'u1', address: VICTIM });
  assert.equal(s.sender.sent.length, 1);
});

test('attack: a burst across the hour boundary — 10 codes by 10:59:30 and more from 11:00 are refused: the cap holds over any 60 minutes, and each send frees its place 60 min after it', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: VICTIM });
  await s.factor.confirm({ userId: 'u1' }, s.sender.sent.at(-1)!.code);
  s.clock.set(Date.UTC(2030, 0, 2, 10, 55, 0));
  const first = s.clock.now();
  for (let i = 0; i < 10; i++) {
    await s.factor.challenge({ userId: 'u1', attempt: `a${i}` });
    s.clock.advance(30_000);
  }
  assert.equal(new Date(s.clock.now()).toISOString(), '2030-01-02T11:00:00.000Z');
  await assert.rejects(s.factor.challenge({ userId: 'u1', attempt: 'b0' }), (e: { code?: string; details?: { retryAfterMs?: number } }) => {
    assert.equal(e.code, 'auth.throttled');
    // the 10:55 code leaves the window at 11:55
    assert.equal(e.details?.retryAfterMs, first + HOUR - s.clock.now());
    return true;
  });
  s.clock.advance(30 * 60_000);
  await throttled(s.factor.challenge({ userId: 'u1', attempt: 'b1' }));
  s.clock.set(first + HOUR);
  await s.factor.challenge({ userId: 'u1', attempt: 'b2' });
  // only the 10:55 place came free; the 10:55:30 one frees 30 s later
  s.clock.advance(30_000 - 1);
  await throttled(s.factor.challenge({ userId: 'u1', attempt: 'b3' }));
  s.clock.advance(1);
  await s.factor.challenge({ userId: 'u1', attempt: 'b4' });
  assert.equal(s.sender.sent.length, 1 + 10 + 2);
});

test('attack: a burst across the hour boundary at enrolment — one address gets at most 10 codes in any 60 minutes, whichever accounts ask', async () => {
  const s = setup();
  s.clock.set(Date.UTC(2030, 0, 2, 10, 55, 0));
  for (let i = 0; i < 10; i++) {
    await s.factor.enroll({ userId: `a${i}`, address: VICTIM });
    s.clock.advance(30_000);
  }
  for (let i = 10; i < 20; i++) {
    await throttled(s.factor.enroll({ userId: `a${i}`, address: VICTIM }));
    s.clock.advance(30_000);
  }
  assert.equal(s.sender.sent.length, 10);
});
