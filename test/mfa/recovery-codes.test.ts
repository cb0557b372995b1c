/** Recovery codes: ten, shown once, stored hashed, each usable once, regenerating voids the old set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { Lockout } from '../../src/identity/lockout.js';
import { factorById, guardFactor } from '../../src/mfa/guarded-factor.js';
import { RecoveryCodesFactor, hashRecoveryCode, normalizeRecoveryCode } from '../../src/mfa/recovery-codes.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { MemoryMfaStore } from '../support/mfa-memory-stores.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

function setup() {
  const clock = new FrozenClock(Date.UTC(2030, 0, 1));
  const store = new MemoryMfaStore();
  return { clock, store, factor: new RecoveryCodesFactor({ store, clock }) };
}

test('ten distinct codes of 16 Crockford base32 characters, stored only as hashes', async () => {
  const s = setup();
  const out = await s.factor.enroll({ userId: 'u1' });
  assert.equal(out.pendingConfirmation, false);
  const codes = out.codes!;
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) assert.match(c, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  const stored = JSON.stringify([...s.store.recovery.values()]);
  for (const c of codes) {
    assert.ok(!stored.includes(c));
    assert.ok(!stored.includes(normalizeRecoveryCode(c)));
  }
  assert.equal((await s.store.listRecoveryCodes('u1'))[3]!.hash, hashRecoveryCode('u1', codes[3]!));
  assert.equal(await s.factor.remaining('u1'), 10);
});

test('a code signs in once, in any case and with or without dashes', async () => {
  const s = setup();
  const codes = (await s.factor.enroll({ userId: 'u1' })).codes!;
  await s.factor.verify({ userId: 'u1' }, codes[0]!.toLowerCase().replace(/-/g, ' '));
  assert.equal(await s.factor.remaining('u1'), 9);
});

test('attack: recovery code reuse — a used code is rejected', async () => {
  const s = setup();
  const codes = (await s.factor.enroll({ userId: 'u1' })).codes!;
  await s.factor.verify({ userId: 'u1' }, codes[4]!);
  await rejectsWith(s.factor.verify({ userId: 'u1' }, codes[4]!), 'mfa.code-replayed');
  await s.factor.verify({ userId: 'u1' }, codes[5]!);
});

test('attack: recovery code reuse race — of concurrent uses of one code exactly one succeeds', async () => {
  const s = setup();
  const codes = (await s.factor.enroll({ userId: 'u1' })).codes!;
  const r = await Promise.allSettled([s.factor.verify({ userId: 'u1' }, codes[1]!), s.factor.verify({ userId: 'u1' }, codes[1]!)]);
  assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
});

test('regenerating voids the old set', async () => {
  const s = setup();
  const old = (await s.factor.enroll({ userId: 'u1' })).codes!;
  const fresh = await s.factor.regenerate('u1');
  for (const c of old.slice(0, 3)) await rejectsWith(s.factor.verify({ userId: 'u1' }, c), 'mfa.invalid-code');
  await s.factor.verify({ userId: 'u1' }, fresh[0]!);
});

test("attack: another user's recovery code does not work", async () => {
  const s = setup();
  const mine = (await s.factor.enroll({ userId: 'u1' })).codes!;
  await s.factor.enroll({ userId: 'u2' });
  await rejectsWith(s.factor.verify({ userId: 'u2' }, mine[0]!), 'mfa.invalid-code');
});

test('once every code is used the factor is no longer enrolled', async () => {
  const s = setup();
  const codes = (await s.factor.enroll({ userId: 'u1' })).codes!;
  for (const c of codes) await s.factor.verify({ userId: 'u1' }, c);
  assert.equal(await s.factor.isEnrolled('u1'), false);
  await rejectsWith(s.factor.challenge({ userId: 'u1' }), 'mfa.not-enrolled');
  await rejectsWith(setup().factor.verify({ userId: 'nobody' }, codes[0]!), 'mfa.not-enrolled');
});

test('attack: recovery code guessing is capped by the lockout; factors are looked up by id', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1' });
  const guarded = guardFactor(s.factor, new Lockout(new TestEphemeralStore(s.clock), s.clock));
  const f = factorById([guarded], 'recovery-code');
  for (let i = 0; i < 5; i++) await rejectsWith(f.verify({ userId: 'u1', ip: '203.0.113.9' }, 'AAAA-BBBB-CCCC-DDDD'), 'mfa.invalid-code');
  await rejectsWith(f.verify({ userId: 'u1', ip: '203.0.113.9' }, 'AAAA-BBBB-CCCC-DDDD'), 'mfa.invalid-code');
  await rejectsWith(f.verify({ userId: 'u1', ip: '203.0.113.9' }, 'AAAA-BBBB-CCCC-DDDD'), 'auth.throttled');
  assert.throws(() => factorById([guarded], 'carrier-pigeon'), (e: { code?: string }) => e.code === 'mfa.unknown-factor');
});

test('attack: "confirming" recovery codes as an enrolment is refused whatever the code (mfa.not-enrollable)', async () => {
  const s = setup();
  const codes = (await s.factor.enroll({ userId: 'u1' })).codes!;
  await rejectsWith(s.factor.confirm({ userId: 'u1' }, '000000'), 'mfa.not-enrollable');
  await rejectsWith(s.factor.confirm({ userId: 'u1' }, codes[0]!), 'mfa.not-enrollable');
  assert.equal(await s.factor.remaining('u1'), 10);
});
