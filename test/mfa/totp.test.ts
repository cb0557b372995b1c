/** TOTP factor: enrolment, confirmation, the ±1 window, replay guard, attempt cap, seeds sealed at rest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { Lockout } from '../../src/identity/lockout.js';
import { guardFactor } from '../../src/mfa/guarded-factor.js';
import { hotp, timeStep } from '../../src/mfa/totp/hotp.js';
import { TotpFactor } from '../../src/mfa/totp/totp-factor.js';
import { Secret } from 'otpauth';
import { openDurableStore } from '../../src/store/index.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { MemoryMfaStore, TestSecretBox } from '../support/mfa-memory-stores.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 15);

function setup() {
  const clock = new FrozenClock(T0);
  const store = new MemoryMfaStore();
  const ephemeral = new TestEphemeralStore(clock);
  const box = new TestSecretBox();
  const factor = new TotpFactor({ store, box, clock }, { issuer: 'Portcullis Test' });
  return { clock, store, ephemeral, box, factor };
}

/** Enrols and returns the seed the authenticator app would hold. */
async function enrolled(s: ReturnType<typeof setup>, userId = 'u1') {
  const out = await s.factor.enroll({ userId, address: 'alice@example.com' });
  const seed = Secret.fromBase32(out.secretBase32!).bytes;
  const codeAt = (ms: number) => hotp(seed, timeStep(ms, 30), 'SHA1', 6);
  await s.factor.confirm({ userId }, codeAt(s.clock.now()));
  s.clock.advance(90_000); // the confirming code is spent; move past its window
  return { out, seed, codeAt };
}

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

test('enrolment shows the otpauth:// URI, an SVG QR code and the base32 seed, and stores the seed sealed', async () => {
  const s = setup();
  const out = await s.factor.enroll({ userId: 'u1', address: 'alice@example.com' });
  assert.equal(out.pendingConfirmation, true);
  const uri = new URL(out.otpauthUri!);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), '/Portcullis Test:alice@example.com');
  assert.equal(uri.searchParams.get('secret'), out.secretBase32);
  assert.equal(uri.searchParams.get('issuer'), 'Portcullis Test');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
  assert.match(out.qrSvg!, /^<svg[\s\S]*<\/svg>\s*$/);
  assert.equal(Secret.fromBase32(out.secretBase32!).bytes.length, 20);
  const stored = await s.store.getEnrollment('u1', 'totp');
  assert.equal(stored?.status, 'pending');
  const sealed = String(stored!.data.sealedSecret);
  assert.ok(!sealed.includes(out.secretBase32!));
  assert.ok(!sealed.includes(Buffer.from(Secret.fromBase32(out.secretBase32!).bytes).toString('base64url')));
  assert.equal(await s.factor.isEnrolled('u1'), false);
});

test('a pending enrolment is not a second factor until a first valid code confirms it', async () => {
  const s = setup();
  const out = await s.factor.enroll({ userId: 'u1' });
  const seed = Secret.fromBase32(out.secretBase32!).bytes;
  await rejectsWith(s.factor.verify({ userId: 'u1' }, hotp(seed, timeStep(s.clock.now(), 30))), 'mfa.not-enrolled');
  await rejectsWith(s.factor.confirm({ userId: 'u1' }, '000000' === hotp(seed, timeStep(s.clock.now(), 30)) ? '111111' : '000000'), 'mfa.invalid-code');
  assert.equal(await s.factor.isEnrolled('u1'), false);
  await s.factor.confirm({ userId: 'u1' }, hotp(seed, timeStep(s.clock.now(), 30)));
  assert.equal(await s.factor.isEnrolled('u1'), true);
  await rejectsWith(s.factor.enroll({ userId: 'u1' }), 'mfa.already-enrolled');
});

test('the current code and the codes one step either side are accepted', async () => {
  for (const offset of [-30_000, 0, 30_000]) {
    const s = setup();
    const { codeAt } = await enrolled(s);
    await s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now() + offset));
  }
});

test('codes two steps away (±60 s) are rejected: the window is ±1 step, not ±2', async () => {
  for (const offset of [-60_000, 60_000]) {
    const s = setup();
    const { codeAt } = await enrolled(s);
    await rejectsWith(s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now() + offset)), 'mfa.invalid-code');
  }
});

test('attack: TOTP replay — the same code a second time in the same window is rejected', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s);
  const code = codeAt(s.clock.now());
  await s.factor.verify({ userId: 'u1' }, code);
  await rejectsWith(s.factor.verify({ userId: 'u1' }, code), 'mfa.code-replayed');
  s.clock.advance(20_000); // still inside the ±1 window of that step
  await rejectsWith(s.factor.verify({ userId: 'u1' }, code), 'mfa.code-replayed');
});

test('attack: TOTP replay race — of two concurrent uses of one code exactly one succeeds', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s);
  const code = codeAt(s.clock.now());
  const results = await Promise.allSettled([s.factor.verify({ userId: 'u1' }, code), s.factor.verify({ userId: 'u1' }, code)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.equal(rejected.reason.code, 'mfa.code-replayed');
});

test('attack: an older code still inside the window is refused once a newer one was used', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s);
  await s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now()));
  await rejectsWith(s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now() - 30_000)), 'mfa.code-replayed');
  s.clock.advance(30_000);
  await s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now()));
});

test('attack: the previous and the current code sent at the same moment — exactly one is accepted, in either order', async () => {
  for (const order of [[-30_000, 0], [0, -30_000]]) {
    const s = setup();
    const { codeAt } = await enrolled(s);
    const now = s.clock.now();
    const results = await Promise.allSettled(order.map((offset) => s.factor.verify({ userId: 'u1' }, codeAt(now + offset))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `offsets ${order.join(',')}`);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal(rejected.reason.code, 'mfa.code-replayed');
  }
});

test('attack: once the previous step’s code was accepted, the current code is refused as a replay until the next time step', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s);
  await s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now() - 30_000));
  await rejectsWith(s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now())), 'mfa.code-replayed');
  s.clock.advance(30_000);
  await s.factor.verify({ userId: 'u1' }, codeAt(s.clock.now()));
});

test('the code that confirmed enrolment cannot be replayed to sign in', async () => {
  const s = setup();
  const out = await s.factor.enroll({ userId: 'u1' });
  const code = hotp(Secret.fromBase32(out.secretBase32!).bytes, timeStep(s.clock.now(), 30));
  await s.factor.confirm({ userId: 'u1' }, code);
  await rejectsWith(s.factor.verify({ userId: 'u1' }, code), 'mfa.code-replayed');
});

test('malformed codes (wrong length, letters) are invalid, and one user’s code does not work for another', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s, 'u1');
  await enrolled(s, 'u2');
  const code = codeAt(s.clock.now());
  await rejectsWith(s.factor.verify({ userId: 'u1' }, code.slice(0, 5)), 'mfa.invalid-code');
  await rejectsWith(s.factor.verify({ userId: 'u1' }, `${code}0`), 'mfa.invalid-code');
  await rejectsWith(s.factor.verify({ userId: 'u1' }, 'abcdef'), 'mfa.invalid-code');
  await rejectsWith(s.factor.verify({ userId: 'u2' }, code), 'mfa.invalid-code');
  await s.factor.verify({ userId: 'u1' }, ` ${code.slice(0, 3)} ${code.slice(3)} `);
});

test('attack: a sealed seed copied onto another user does not open (aad binds it to its owner)', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s, 'victim');
  const victim = (await s.store.getEnrollment('victim', 'totp'))!;
  await s.store.putEnrollment({ ...victim, userId: 'attacker' });
  await rejectsWith(s.factor.verify({ userId: 'attacker' }, codeAt(s.clock.now())), 'crypto.decrypt-failed');
});

test('attack: TOTP guessing — the attempt cap throttles then locks the account, and admin unlock clears it', async () => {
  const s = setup();
  const { codeAt } = await enrolled(s);
  const lockout = new Lockout(s.ephemeral, s.clock);
  const totp = guardFactor(s.factor, lockout);
  const good = codeAt(s.clock.now());
  const wrong = good === '123456' ? '654321' : '123456';
  for (let i = 0; i < 5; i++) await rejectsWith(totp.verify({ userId: 'u1' }, wrong), 'mfa.invalid-code');
  // sixth failure sets a delay; the next attempt, even with the right code, must wait
  await rejectsWith(totp.verify({ userId: 'u1' }, wrong), 'mfa.invalid-code');
  await rejectsWith(totp.verify({ userId: 'u1' }, good), 'auth.throttled');
  for (let i = 6; i < 10; i++) {
    s.clock.advance(61_000);
    await rejectsWith(totp.verify({ userId: 'u1' }, wrong), 'mfa.invalid-code');
  }
  s.clock.advance(61_000);
  await rejectsWith(totp.verify({ userId: 'u1' }, codeAt(s.clock.now())), 'auth.locked');
  await lockout.unlockAccount('u1');
  await totp.verify({ userId: 'u1' }, codeAt(s.clock.now()));
});

test('SHA256 and 8-digit TOTP as configured: seed of 32 bytes, URI names the algorithm', async () => {
  const clock = new FrozenClock(T0);
  const store = new MemoryMfaStore();
  const factor = new TotpFactor({ store, box: new TestSecretBox(), clock }, { issuer: 'X', algorithm: 'SHA256', digits: 8 });
  const out = await factor.enroll({ userId: 'u1' });
  const seed = Secret.fromBase32(out.secretBase32!).bytes;
  assert.equal(seed.length, 32);
  assert.equal(new URL(out.otpauthUri!).searchParams.get('algorithm'), 'SHA256');
  await factor.confirm({ userId: 'u1' }, hotp(seed, timeStep(clock.now(), 30), 'SHA256', 8));
  assert.equal(await factor.isEnrolled('u1'), true);
});

await serviceTest('postgres', 'attack: the previous and the current code sent at once to two nodes sharing PostgreSQL — exactly one is accepted, and an older one after a newer one is a replay (needs PostgreSQL)', async () => {
  const clock = new FrozenClock(T0);
  const box = new TestSecretBox();
  const db = await createTempPostgresDatabase();
  const stores = await Promise.all([openDurableStore(db.url), openDurableStore(db.url)]);
  try {
    const [a, b] = stores.map((store) => new TotpFactor({ store, box, clock }, { issuer: 'Portcullis Test' }));
    const seed = Secret.fromBase32((await a!.enroll({ userId: 'u1' })).secretBase32!).bytes;
    const codeAt = (ms: number) => hotp(seed, timeStep(ms, 30), 'SHA1', 6);
    await a!.confirm({ userId: 'u1' }, codeAt(clock.now()));
    for (const order of [[-30_000, 0], [0, -30_000]]) {
      clock.advance(90_000);
      const now = clock.now();
      const results = await Promise.allSettled(order.map((offset, i) => (i % 2 ? b! : a!).verify({ userId: 'u1' }, codeAt(now + offset))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `offsets ${order.join(',')}`);
      assert.equal((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code, 'mfa.code-replayed');
    }
    clock.advance(90_000);
    await b!.verify({ userId: 'u1' }, codeAt(clock.now()));
    await rejectsWith(a!.verify({ userId: 'u1' }, codeAt(clock.now() - 30_000)), 'mfa.code-replayed');
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
});

test('a new authenticator set up right after the old one was removed confirms with its first code (not mfa.code-replayed from the old seed)', async () => {
  const s = setup();
  const old = await enrolled(s);
  await s.factor.verify({ userId: 'u1' }, old.codeAt(s.clock.now()));
  await s.factor.remove('u1');
  const out = await s.factor.enroll({ userId: 'u1', address: 'alice@example.com' });
  const seed = Secret.fromBase32(out.secretBase32!).bytes;
  await s.factor.confirm({ userId: 'u1' }, hotp(seed, timeStep(s.clock.now(), 30), 'SHA1', 6));
  assert.equal(await s.factor.isEnrolled('u1'), true);
});
