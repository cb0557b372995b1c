/**
 * An enrolment starts a pending factor and never replaces a confirmed one. `enroll` reads
 * the enrolment (refusing `mfa.already-enrolled` when it is confirmed) and then writes the
 * new pending one: when a confirmation of the earlier pending enrolment lands between the
 * two (a second tab, another node), the write must not turn the user's confirmed factor
 * back into a pending one with a seed or address nobody proved. That would take the
 * user's second factor away without a `user.factor-removed`: a user for whom MFA is not
 * required would then sign in with the password alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeFor, rejectsWith, smsSetup, totpSetup } from './factor-race-fixture.js';

test('attack: a TOTP enrolment racing the confirmation of the previous one turns the confirmed factor back into a pending one — mfa.already-enrolled, the confirmed seed stays', async () => {
  const { clock, store, box, factor } = totpSetup();
  const first = await factor.enroll({ userId: 'u1', address: 'alice@example.com' });
  // The second enrolment has read the pending enrolment (not confirmed) and is sealing its
  // new seed when the first one's code is confirmed (another tab, another node).
  const seal = box.seal.bind(box);
  let confirmed = false;
  box.seal = async (plain, aad) => {
    if (!confirmed) {
      confirmed = true;
      await factor.confirm({ userId: 'u1' }, codeFor(first.secretBase32!, clock.now()));
    }
    return seal(plain, aad);
  };
  await rejectsWith(factor.enroll({ userId: 'u1', address: 'alice@example.com' }), 'mfa.already-enrolled');
  assert.ok(confirmed);
  const e = await store.getEnrollment('u1', 'totp');
  assert.equal(e?.status, 'confirmed');
  assert.equal(await factor.isEnrolled('u1'), true);
  // the authenticator the user set up still signs in
  clock.advance(30_000);
  await factor.verify({ userId: 'u1' }, codeFor(first.secretBase32!, clock.now()));
});

test('attack: an SMS enrolment racing the confirmation of the previous number turns it back into a pending, unproven number — mfa.already-enrolled, the confirmed number stays', async () => {
  const { clock, ephemeral, store, sender, factor } = smsSetup();
  await factor.enroll({ userId: 'u1', address: '+33612345689' });
  const toFirst = sender.last().code;
  clock.advance(31_000);
  // The second enrolment has read the pending number and is taking its send slot when the
  // first number's code is confirmed.
  const consume = ephemeral.consumeOnce.bind(ephemeral);
  let confirmed = false;
  ephemeral.consumeOnce = async (key, ttl) => {
    if (!confirmed && key.startsWith('mfa:otp-send:')) {
      confirmed = true;
      await factor.confirm({ userId: 'u1' }, toFirst);
    }
    return consume(key, ttl);
  };
  await rejectsWith(factor.enroll({ userId: 'u1', address: '+15550001111' }), 'mfa.already-enrolled');
  assert.ok(confirmed);
  const e = await store.getEnrollment('u1', 'sms');
  assert.equal(e?.status, 'confirmed');
  assert.equal(e?.data['address'], '+33612345689');
  assert.equal(sender.sent.filter((m) => m.to === '+15550001111').length, 0, 'no code goes to the number that was not enrolled');
});
