/**
 * The MfaStore (src/mfa/store.ts) and PasswordStore (src/identity/passwords/store.ts)
 * contracts for every adapter: memory, SQLite, PostgreSQL. Both stores' writes that
 * guard sign-in are compare-and-set; the race tests run on two instances where the
 * adapter has nodes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { PasswordStore } from '../../src/identity/passwords/store.js';
import type { FactorEnrollment, MfaStore } from '../../src/mfa/store.js';
import { storeTests, twoNodes, type StoreHarness } from './store-harness.js';

const T0 = 1_700_000_000_000;

const h = (s: string): string => createHash('sha256').update(s).digest('hex');

function enrollment(userId: string, factorId: string, over: Partial<FactorEnrollment> = {}): FactorEnrollment {
  return {
    userId,
    factorId,
    status: 'pending',
    data: factorId === 'totp' ? { sealedSecret: 'v1.iv.ct', algorithm: 'SHA1', digits: 6, period: 30 } : { address: `${userId}@example.org` },
    createdAt: T0,
    confirmedAt: null,
    ...over,
  };
}

const byFactor = (a: FactorEnrollment, b: FactorEnrollment): number => (a.factorId < b.factorId ? -1 : a.factorId > b.factorId ? 1 : 0);

export function runMfaStoreSuite(name: string, make: () => Promise<StoreHarness<MfaStore>>): void {
  const t = storeTests(`${name} mfa`, make);

  t('enrolments: put and get round-trip every field (numbers stay numbers); put replaces; unknown is undefined', async (open) => {
    const s = await open();
    const pending = enrollment('u1', 'totp');
    await s.putEnrollment(pending);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), pending);
    assert.equal(typeof (await s.getEnrollment('u1', 'totp'))!.data.digits, 'number');
    const confirmed = { ...pending, status: 'confirmed' as const, confirmedAt: T0 + 30_000, data: { ...pending.data, digits: 8 } };
    await s.putEnrollment(confirmed);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), confirmed);
    assert.equal(await s.getEnrollment('u1', 'email'), undefined);
    assert.equal(await s.getEnrollment('u2', 'totp'), undefined);
  });

  t('enrolments: list is per user; delete removes one factor and is idempotent', async (open) => {
    const s = await open();
    const totp = enrollment('u1', 'totp', { status: 'confirmed', confirmedAt: T0 + 1 });
    const email = enrollment('u1', 'email', { createdAt: T0 + 2 });
    const other = enrollment('u2', 'sms', { data: { address: '+15550100' } });
    for (const e of [totp, other, email]) await s.putEnrollment(e);
    assert.deepEqual((await s.listEnrollments('u1')).sort(byFactor), [email, totp]);
    assert.deepEqual(await s.listEnrollments('u2'), [other]);
    assert.deepEqual(await s.listEnrollments('u3'), []);
    await s.deleteEnrollment('u1', 'totp');
    await s.deleteEnrollment('u1', 'totp');
    await s.deleteEnrollment('u9', 'totp');
    assert.deepEqual(await s.listEnrollments('u1'), [email]);
    assert.deepEqual(await s.getEnrollment('u2', 'sms'), other);
  });

  t('last step: advance is a compare-and-set that never moves back; a confirmation keeps it, a new seed or a delete clears it', async (open) => {
    const s = await open();
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), false, 'no enrolment, no step');
    const pending = enrollment('u1', 'totp');
    await s.putEnrollment(pending);
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 101), true);
    // the step is now 101: an equal or earlier one is a replay, a later one moves it
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), false);
    assert.equal(await s.advanceLastStep('u1', 'totp', 101, 101), false);
    assert.equal(await s.advanceLastStep('u1', 'totp', 102, 102), true);
    assert.equal(await s.advanceLastStep('u1', 'totp', 102, 102), false);
    // other users and factors have their own
    assert.equal(await s.advanceLastStep('u2', 'totp', 102, 102), false);
    await s.putEnrollment(enrollment('u1', 'email'));
    assert.equal(await s.advanceLastStep('u1', 'email', 50, 50), true);
    // confirming the enrolment (same data) keeps the step: the confirming code stays spent
    await s.putEnrollment({ ...pending, status: 'confirmed', confirmedAt: T0 + 1 });
    assert.equal(await s.advanceLastStep('u1', 'totp', 102, 102), false);
    assert.equal((await s.getEnrollment('u1', 'totp'))!.status, 'confirmed');
    // a new seed (new data) starts with no used step
    await s.putEnrollment({ ...pending, data: { ...pending.data, sealedSecret: 'v1.iv.other' } });
    assert.equal(await s.advanceLastStep('u1', 'totp', 90, 90), true);
    // so does an enrolment made again after a delete
    await s.deleteEnrollment('u1', 'totp');
    assert.equal(await s.advanceLastStep('u1', 'totp', 95, 95), false);
    await s.putEnrollment({ ...pending, data: { ...pending.data, sealedSecret: 'v1.iv.other' } });
    assert.equal(await s.advanceLastStep('u1', 'totp', 80, 80), true);
    assert.equal(await s.advanceLastStep('u1', 'email', 50, 50), false);
  });

  t('confirm: only the pending enrolment given, unchanged, is confirmed (keeping its last step); removed, started again or confirmed meanwhile is false and changes nothing', async (open) => {
    const s = await open();
    const pending = enrollment('u1', 'totp');
    assert.equal(await s.confirmEnrollment(pending, T0 + 5), false, 'no enrolment');
    await s.putEnrollment(pending);
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), true);
    // started again with a new seed: the old one is not confirmed over it
    const again = { ...pending, data: { ...pending.data, sealedSecret: 'v1.iv.again' } };
    await s.putEnrollment(again);
    assert.equal(await s.confirmEnrollment(pending, T0 + 5), false);
    assert.equal(await s.confirmEnrollment({ ...again, createdAt: T0 + 1 }, T0 + 5), false, 'another enrolment with the same data');
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), again);
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), true);
    assert.equal(await s.confirmEnrollment(again, T0 + 5), true);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), { ...again, status: 'confirmed', confirmedAt: T0 + 5 });
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), false, 'the confirming step stays spent');
    assert.equal(await s.confirmEnrollment(again, T0 + 6), false, 'already confirmed');
    assert.equal((await s.getEnrollment('u1', 'totp'))!.confirmedAt, T0 + 5);
    // removed meanwhile: not brought back
    const email = enrollment('u1', 'email');
    await s.putEnrollment(email);
    await s.deleteEnrollment('u1', 'email');
    assert.equal(await s.confirmEnrollment(email, T0 + 7), false);
    assert.equal(await s.getEnrollment('u1', 'email'), undefined);
  });

  t('start: a pending enrolment is put or replaces a pending one (a new seed clears the last step); a confirmed one is never replaced (false, unchanged)', async (open) => {
    const s = await open();
    const pending = enrollment('u1', 'totp');
    assert.equal(await s.putPendingEnrollment(pending), true);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), pending);
    assert.equal(await s.advanceLastStep('u1', 'totp', 100, 100), true);
    const again = { ...pending, data: { ...pending.data, sealedSecret: 'v1.iv.again' }, createdAt: T0 + 1 };
    assert.equal(await s.putPendingEnrollment(again), true);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), again);
    assert.equal(await s.advanceLastStep('u1', 'totp', 90, 90), true, 'a new seed has no used step');
    assert.equal(await s.confirmEnrollment(again, T0 + 5), true);
    const confirmed = await s.getEnrollment('u1', 'totp');
    assert.equal(await s.putPendingEnrollment({ ...pending, data: { ...pending.data, sealedSecret: 'v1.iv.third' }, createdAt: T0 + 9 }), false);
    assert.deepEqual(await s.getEnrollment('u1', 'totp'), confirmed);
    assert.equal(await s.advanceLastStep('u1', 'totp', 90, 90), false, 'the confirmed enrolment keeps its last step');
  });

  t('start racing a confirmation (two nodes when supported): the enrolment ends confirmed with the seed confirmed, or pending with the new seed, never the new seed confirmed', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    for (let i = 0; i < 8; i++) {
      const first = enrollment(`u${i}`, 'totp');
      const second = { ...first, data: { ...first.data, sealedSecret: `v1.iv.second${i}` }, createdAt: T0 + 1 };
      await a.putPendingEnrollment(first);
      const [confirmed, started] = await Promise.all([a.confirmEnrollment(first, T0 + 2), b.putPendingEnrollment(second)]);
      const e = await a.getEnrollment(first.userId, 'totp');
      if (e?.status === 'confirmed') {
        assert.deepEqual(e.data, first.data);
        assert.equal(confirmed, true);
        assert.equal(started, false, 'a confirmed enrolment is not replaced');
      } else {
        assert.deepEqual(e, second);
        assert.equal(confirmed, false);
        assert.equal(started, true);
      }
    }
  });

  t('confirm racing a delete (two nodes when supported): the enrolment is either confirmed then deleted, or not confirmed; never there afterwards', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    for (let i = 0; i < 8; i++) {
      const e = enrollment(`u${i}`, 'sms', { data: { address: `+1555010${i}` } });
      await a.putEnrollment(e);
      await Promise.all([a.confirmEnrollment(e, T0 + 1), b.deleteEnrollment(e.userId, 'sms')]);
      assert.equal(await a.getEnrollment(e.userId, 'sms'), undefined);
    }
  });

  t('last-step replay race — 24 concurrent advances with one step (two nodes when supported): exactly one wins', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    await a.putEnrollment(enrollment('u1', 'totp', { status: 'confirmed', confirmedAt: T0 }));
    const step = 56_666_667;
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).advanceLastStep('u1', 'totp', step - (i % 2), step)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await b.advanceLastStep('u1', 'totp', step, step), false);
    assert.equal(await a.advanceLastStep('u1', 'totp', step + 1, step + 1), true);
  });

  t('recovery codes: replace stores the set by index, unused; a code is used once and only with its hash', async (open) => {
    const s = await open();
    const hashes = Array.from({ length: 10 }, (_, i) => h(`u1:code-${i}`));
    await s.replaceRecoveryCodes('u1', hashes, T0);
    assert.deepEqual(await s.listRecoveryCodes('u1'), hashes.map((hash, index) => ({ index, hash, usedAt: null })));
    assert.equal(await s.markRecoveryCodeUsed('u1', 3, hashes[3]!, T0 + 10), true);
    // Replay of the same code.
    assert.equal(await s.markRecoveryCodeUsed('u1', 3, hashes[3]!, T0 + 20), false);
    // A guess: right index, wrong hash; another user's code; an index outside the set.
    assert.equal(await s.markRecoveryCodeUsed('u1', 4, h('u1:guess'), T0 + 30), false);
    assert.equal(await s.markRecoveryCodeUsed('u2', 4, hashes[4]!, T0 + 30), false);
    assert.equal(await s.markRecoveryCodeUsed('u1', 10, hashes[4]!, T0 + 30), false);
    const list = await s.listRecoveryCodes('u1');
    assert.deepEqual(list[3], { index: 3, hash: hashes[3], usedAt: T0 + 10 });
    assert.deepEqual(list.filter((r) => r.usedAt !== null).map((r) => r.index), [3]);
  });

  t('recovery codes: replacing the set makes every old code stop working; delete empties it; users are separate', async (open) => {
    const s = await open();
    const old = [h('u1:old-0'), h('u1:old-1'), h('u1:old-2')];
    const fresh = [h('u1:new-0'), h('u1:new-1')];
    const theirs = [h('u2:0')];
    await s.replaceRecoveryCodes('u1', old, T0);
    await s.replaceRecoveryCodes('u2', theirs, T0);
    assert.equal(await s.markRecoveryCodeUsed('u1', 0, old[0]!, T0 + 1), true);
    await s.replaceRecoveryCodes('u1', fresh, T0 + 2);
    assert.deepEqual(await s.listRecoveryCodes('u1'), fresh.map((hash, index) => ({ index, hash, usedAt: null })));
    assert.equal(await s.markRecoveryCodeUsed('u1', 1, old[1]!, T0 + 3), false);
    assert.equal(await s.markRecoveryCodeUsed('u1', 2, old[2]!, T0 + 3), false);
    assert.equal(await s.markRecoveryCodeUsed('u1', 1, fresh[1]!, T0 + 3), true);
    await s.deleteRecoveryCodes('u1');
    await s.deleteRecoveryCodes('u1');
    assert.deepEqual(await s.listRecoveryCodes('u1'), []);
    assert.equal(await s.markRecoveryCodeUsed('u1', 0, fresh[0]!, T0 + 4), false);
    assert.deepEqual(await s.listRecoveryCodes('u2'), [{ index: 0, hash: theirs[0], usedAt: null }]);
    await s.replaceRecoveryCodes('u2', [], T0 + 5);
    assert.deepEqual(await s.listRecoveryCodes('u2'), []);
  });

  t('recovery-code replay race — 24 concurrent uses (two nodes when supported) of one code: exactly one succeeds', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    const hashes = Array.from({ length: 10 }, (_, i) => h(`u1:code-${i}`));
    await a.replaceRecoveryCodes('u1', hashes, T0);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).markRecoveryCodeUsed('u1', 7, hashes[7]!, T0 + 100 + i)));
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    const list = await b.listRecoveryCodes('u1');
    assert.deepEqual(list[7], { index: 7, hash: hashes[7], usedAt: T0 + 100 + winner });
    assert.equal(list.filter((r) => r.usedAt !== null).length, 1);
  });
  t('recovery-code regeneration race — concurrent replacements (two nodes when supported) leave exactly one whole set', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    await a.replaceRecoveryCodes('u1', [h('u1:seed-0'), h('u1:seed-1')], T0);
    await a.markRecoveryCodeUsed('u1', 0, h('u1:seed-0'), T0 + 1);
    // Sets of different sizes, so a mix of two would show as a wrong length or foreign hash.
    const sets = Array.from({ length: 8 }, (_, i) => Array.from({ length: 4 + (i % 3) * 3 }, (_, j) => h(`u1:set-${i}-${j}`)));
    await Promise.all(sets.map((set, i) => (i % 2 ? a : b).replaceRecoveryCodes('u1', set, T0 + 10 + i)));
    const list = await b.listRecoveryCodes('u1');
    const winner = sets.find((set) => set[0] === list[0]?.hash);
    assert.ok(winner, 'the stored set is one of the candidates');
    assert.deepEqual(list, winner.map((hash, index) => ({ index, hash, usedAt: null })));
  });
}

export function runPasswordStoreSuite(name: string, make: () => Promise<StoreHarness<PasswordStore>>): void {
  const t = storeTests(`${name} passwords`, make);

  t('a user without a password has undefined; the first set is compare-and-set against null', async (open) => {
    const s = await open();
    assert.equal(await s.getPasswordHash('u1'), undefined);
    assert.equal(await s.replacePasswordHash('u1', null, '$argon2id$v=19$m=19456,t=2,p=1$first'), true);
    assert.equal(await s.getPasswordHash('u1'), '$argon2id$v=19$m=19456,t=2,p=1$first');
    // "Only if the user has no password yet": a second initial set must not overwrite.
    assert.equal(await s.replacePasswordHash('u1', null, '$argon2id$attacker'), false);
    assert.equal(await s.getPasswordHash('u1'), '$argon2id$v=19$m=19456,t=2,p=1$first');
    assert.equal(await s.getPasswordHash('u2'), undefined);
  });

  t('stale rehash — replacing with an outdated expected hash fails and keeps the newer password', async (open) => {
    const s = await open();
    const legacy = 'pbkdf2-sha256$600000$salt$legacy';
    await s.replacePasswordHash('u1', null, legacy);
    // The user changes the password while a sign-in still holds the legacy hash.
    assert.equal(await s.replacePasswordHash('u1', legacy, '$argon2id$changed'), true);
    assert.equal(await s.replacePasswordHash('u1', legacy, '$argon2id$rehash-of-legacy'), false);
    assert.equal(await s.getPasswordHash('u1'), '$argon2id$changed');
    // Expecting a hash for a user who has none fails too, and creates nothing.
    assert.equal(await s.replacePasswordHash('u2', legacy, '$argon2id$x'), false);
    assert.equal(await s.getPasswordHash('u2'), undefined);
  });

  t('rehash race — 24 concurrent compare-and-sets from one expected hash (two nodes when supported): exactly one replaces', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    await a.replacePasswordHash('u1', null, 'pbkdf2$old');
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).replacePasswordHash('u1', 'pbkdf2$old', `$argon2id$n${i}`)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await b.getPasswordHash('u1'), `$argon2id$n${results.indexOf(true)}`);
  });

  t('first-password race — 24 concurrent initial sets (two nodes when supported): exactly one wins', async (open, hn) => {
    const [a, b] = await twoNodes(open, hn);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).replacePasswordHash('u1', null, `$argon2id$n${i}`)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await a.getPasswordHash('u1'), `$argon2id$n${results.indexOf(true)}`);
  });
}
