/**
 * A confirmation turns the pending enrolment it checked the code against into a
 * confirmed one, and nothing else: when that enrolment was removed meanwhile (reset-mfa,
 * the user's own removal) or started again with a new seed, the confirmation is refused
 * and the store keeps what the other request left, never a factor brought back to life.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeFor, rejectsWith, smsSetup, totpSetup } from './factor-race-fixture.js';

test('attack: a TOTP confirmation racing reset-mfa brings the removed enrolment back, confirmed — mfa.not-enrolled, nothing left', async () => {
  const s = totpSetup();
  const out = await s.factor.enroll({ userId: 'u1', address: 'alice@example.com' });
  // reset-mfa removes the enrolment once the code was checked, before the confirmation is written
  const advance = s.store.advanceLastStep.bind(s.store);
  s.store.advanceLastStep = async (...a) => {
    const ok = await advance(...a);
    await s.factor.remove('u1');
    return ok;
  };
  await rejectsWith(s.factor.confirm({ userId: 'u1' }, codeFor(out.secretBase32!, s.clock.now())), 'mfa.not-enrolled');
  assert.equal(await s.store.getEnrollment('u1', 'totp'), undefined);
  assert.equal(await s.factor.isEnrolled('u1'), false);
});

test('attack: a TOTP confirmation racing a new enrolment puts the old seed back, confirmed, over the new one — mfa.not-enrolled, the new seed stays pending', async () => {
  const s = totpSetup();
  const first = await s.factor.enroll({ userId: 'u1', address: 'alice@example.com' });
  let second: Awaited<ReturnType<typeof s.factor.enroll>> | undefined;
  const advance = s.store.advanceLastStep.bind(s.store);
  s.store.advanceLastStep = async (...a) => {
    const ok = await advance(...a);
    if (!second) second = await s.factor.enroll({ userId: 'u1', address: 'alice@example.com' });
    return ok;
  };
  await rejectsWith(s.factor.confirm({ userId: 'u1' }, codeFor(first.secretBase32!, s.clock.now())), 'mfa.not-enrolled');
  const e = await s.store.getEnrollment('u1', 'totp');
  assert.equal(e?.status, 'pending');
  assert.ok(second);
  s.clock.advance(30_000);
  await s.factor.confirm({ userId: 'u1' }, codeFor(second.secretBase32!, s.clock.now()));
  assert.equal(await s.factor.isEnrolled('u1'), true);
});

test('attack: an SMS confirmation racing reset-mfa brings the removed number back, confirmed — mfa.not-enrolled, nothing left', async () => {
  const { ephemeral, store, sender, factor } = smsSetup();
  await factor.enroll({ userId: 'u1', address: '+33612345689' });
  // reset-mfa removes the enrolment (and its codes) once the code was taken, before the confirmation is written
  const consume = ephemeral.consumeOnce.bind(ephemeral);
  ephemeral.consumeOnce = async (key, ttl) => {
    const first = await consume(key, ttl);
    if (key.includes(':used:')) await factor.remove('u1');
    return first;
  };
  await rejectsWith(factor.confirm({ userId: 'u1' }, sender.last().code), 'mfa.not-enrolled');
  assert.equal(await store.getEnrollment('u1', 'sms'), undefined);
  assert.equal(await factor.isEnrolled('u1'), false);
});
