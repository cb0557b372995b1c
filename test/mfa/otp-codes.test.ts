/** One-time codes by e-mail and SMS: expiry, single use, stored hashed, guess cap, resend throttle. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { Lockout } from '../../src/identity/lockout.js';
import { guardFactor } from '../../src/mfa/guarded-factor.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { OtpFactor } from '../../src/mfa/otp/otp-factor.js';
import { FileOutboxSender, readOutbox } from '../../src/mfa/otp/senders/file-outbox.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { CapturingSender, MemoryMfaStore } from '../support/mfa-memory-stores.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

function setup(channel: 'email' | 'sms' = 'sms', options: { maxSendsPerHour?: number; resendIntervalMs?: number } = {}) {
  const clock = new FrozenClock(T0);
  const ephemeral = new TestEphemeralStore(clock);
  const store = new MemoryMfaStore();
  const codes = new OneTimeCodes(ephemeral, clock, randomBytes(32));
  const sender = new CapturingSender();
  const factor = new OtpFactor({ store, ephemeral, codes, sender, clock }, { channel, issuer: 'Portcullis', ...options });
  return { clock, ephemeral, store, codes, sender, factor };
}

const other = (code: string) => (code === '000000' ? '000001' : '000000');

async function enrolledSms(s: ReturnType<typeof setup>, userId = 'u1') {
  await s.factor.enroll({ userId, address: '+33612345689' });
  await s.factor.confirm({ userId }, s.sender.last().code);
  s.clock.advance(31_000); // past the resend interval
}

test('codes have 6 digits by default, 8 when configured, and fewer than 6 is refused', async () => {
  const clock = new FrozenClock(T0);
  const e = new TestEphemeralStore(clock);
  assert.match((await new OneTimeCodes(e, clock, randomBytes(32)).issue('a')).code, /^\d{6}$/);
  assert.match((await new OneTimeCodes(e, clock, randomBytes(32), { digits: 8 }).issue('b')).code, /^\d{8}$/);
  assert.throws(() => new OneTimeCodes(e, clock, randomBytes(32), { digits: 4 }), (err: PortcullisError) => err.code === 'config.invalid');
  assert.throws(() => new OneTimeCodes(e, clock, randomBytes(16)), (err: PortcullisError) => err.code === 'config.invalid');
});

test('a code is stored only as an HMAC: the ephemeral store never holds the code', async () => {
  const s = setup();
  const { code } = await s.codes.issue('sms:sign-in:u1');
  const raw = (await s.ephemeral.get('mfa:otp:sms:sign-in:u1'))!;
  assert.ok(raw.length > 0);
  assert.ok(!raw.includes(code));
});

test('a code expires after 5 minutes (frozen clock)', async () => {
  const s = setup();
  const { code, expiresAt } = await s.codes.issue('slot');
  assert.equal(expiresAt, T0 + 5 * 60_000);
  s.clock.advance(5 * 60_000);
  await rejectsWith(s.codes.verify('slot', code), 'mfa.code-expired');
  const again = await s.codes.issue('slot');
  s.clock.advance(5 * 60_000 - 1);
  await s.codes.verify('slot', again.code);
});

test('attack: one-time code replay — a code is accepted once', async () => {
  const s = setup();
  const { code } = await s.codes.issue('slot');
  await s.codes.verify('slot', code);
  await rejectsWith(s.codes.verify('slot', code), 'mfa.code-replayed');
});

test('attack: one-time code replay race — of concurrent uses exactly one succeeds', async () => {
  const s = setup();
  const { code } = await s.codes.issue('slot');
  const r = await Promise.allSettled([1, 2, 3].map(() => s.codes.verify('slot', code)));
  assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
});

test('attack: one-time code guessing — the code is burnt after 5 wrong guesses, even for the right code', async () => {
  const s = setup();
  const { code } = await s.codes.issue('slot');
  for (let i = 0; i < 5; i++) await rejectsWith(s.codes.verify('slot', other(code)), 'mfa.invalid-code');
  await rejectsWith(s.codes.verify('slot', code), 'mfa.code-expired');
});

test('attack: concurrent guesses on one code — at most 5 are compared, so the right code sent among 20 at once is refused', async () => {
  const s = setup();
  const { code } = await s.codes.issue('slot');
  const guesses = Array.from({ length: 20 }, (_, i) => (i === 19 ? code : other(code)));
  const r = await Promise.all(guesses.map((g) => s.codes.verify('slot', g).then(() => 'ok', (e: PortcullisError) => e.code)));
  assert.equal(r.filter((c) => c === 'mfa.invalid-code').length, 5);
  assert.equal(r.filter((c) => c === 'mfa.code-expired').length, 15);
  assert.equal(r[19], 'mfa.code-expired');
});

test('a new code replaces the previous one', async () => {
  const s = setup();
  const first = await s.codes.issue('slot');
  const second = await s.codes.issue('slot');
  if (first.code !== second.code) await rejectsWith(s.codes.verify('slot', first.code), 'mfa.invalid-code');
  await s.codes.verify('slot', second.code);
});

test('SMS enrolment: code to the new number, confirmed by it; sign-in challenge sends a fresh code', async () => {
  const s = setup();
  const out = await s.factor.enroll({ userId: 'u1', address: '+33612345689' });
  assert.equal(out.sentTo, '+33*******89');
  assert.equal(s.sender.last().to, '+33612345689');
  assert.equal(s.sender.last().purpose, 'enroll');
  assert.match(s.sender.last().text, new RegExp(`^${s.sender.last().code} is your Portcullis verification code`));
  assert.equal(await s.factor.isEnrolled('u1'), false);
  await rejectsWith(s.factor.challenge({ userId: 'u1' }), 'mfa.not-enrolled');
  await s.factor.confirm({ userId: 'u1' }, s.sender.last().code);
  assert.equal(await s.factor.isEnrolled('u1'), true);
  s.clock.advance(31_000);
  const ch = await s.factor.challenge({ userId: 'u1' });
  assert.equal(ch.sent, true);
  assert.equal(s.sender.last().purpose, 'sign-in');
  await s.factor.verify({ userId: 'u1' }, s.sender.last().code);
  await rejectsWith(s.factor.verify({ userId: 'u1' }, s.sender.last().code), 'mfa.code-replayed');
});

test('attack: an enrolment code cannot be used to sign in', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: '+33612345689' });
  const enrolCode = s.sender.last().code;
  await s.factor.confirm({ userId: 'u1' }, enrolCode);
  s.clock.advance(31_000);
  await s.factor.challenge({ userId: 'u1' });
  if (enrolCode !== s.sender.last().code) await rejectsWith(s.factor.verify({ userId: 'u1' }, enrolCode), 'mfa.invalid-code');
});

test('attack: SMS pumping — a second send within 30 s is throttled', async () => {
  const s = setup();
  await enrolledSms(s);
  await s.factor.challenge({ userId: 'u1' });
  await rejectsWith(s.factor.challenge({ userId: 'u1' }), 'auth.throttled');
  assert.equal(s.sender.sent.length, 2);
  s.clock.advance(30_000);
  await s.factor.challenge({ userId: 'u1' });
  assert.equal(s.sender.sent.length, 3);
});

test('bad destinations are refused: not E.164 for SMS, not an address for e-mail', async () => {
  await rejectsWith(setup('sms').factor.enroll({ userId: 'u1', address: '0612345689' }), 'request.invalid');
  await rejectsWith(setup('email').factor.enroll({ userId: 'u1', address: 'not-an-address' }), 'request.invalid');
});

test('attack: recipient injection at enrolment — an e-mail address with a display name, comment, group, second recipient or line break is request.invalid, and nothing is sent', async () => {
  const s = setup('email', { resendIntervalMs: 1 });
  for (const address of [
    '"Urgent:call+15550100"<alice@example.com>',
    'alice@example.com(bob@evil.com)',
    'g:alice@example.com,postmaster;',
    'alice@example.com,root',
    'alice@evil.com>.x',
    'alice@example.com\u2028Bcc:bob@evil.com',
    `${'a'.repeat(250)}@example.com`,
  ]) {
    s.clock.advance(1);
    await assert.rejects(s.factor.enroll({ userId: 'u1', address }), (e: { code?: string }) => e.code === 'request.invalid', address);
  }
  assert.equal(s.sender.sent.length, 0);
  // plain addresses, international ones included, still go through
  for (const address of ['alice.o\'brien+mfa@example.co.uk', 'zoë@bücher.example']) {
    s.clock.advance(1);
    await s.factor.enroll({ userId: 'u1', address });
    assert.equal(s.sender.last().to, address);
  }
});

test('a failed delivery is mfa.delivery-failed and withdraws the code', async () => {
  const s = setup();
  await enrolledSms(s);
  s.sender.fail = true;
  await rejectsWith(s.factor.challenge({ userId: 'u1' }), 'mfa.delivery-failed');
  await rejectsWith(s.factor.verify({ userId: 'u1' }, '123456'), 'mfa.code-expired');
});

test('attack: SMS code guessing across fresh codes — the per-account attempt cap still locks', async () => {
  const s = setup('sms', { maxSendsPerHour: 20 }); // the lockout, not the hourly send cap, is under test
  await enrolledSms(s);
  const lockout = new Lockout(s.ephemeral, s.clock);
  const sms = guardFactor(s.factor, lockout);
  for (let i = 0; i < 10; i++) {
    s.clock.advance(61_000); // past each growing delay and the resend interval
    await sms.challenge({ userId: 'u1', ip: '198.51.100.7' });
    await rejectsWith(sms.verify({ userId: 'u1', ip: '198.51.100.7' }, other(s.sender.last().code)), 'mfa.invalid-code');
  }
  s.clock.advance(61_000);
  await rejectsWith(sms.challenge({ userId: 'u1' }), 'auth.locked');
  await rejectsWith(sms.verify({ userId: 'u1' }, s.sender.last().code), 'auth.locked');
  assert.equal((await lockout.state('account', 'u1')).locked, true);
});

test('e-mail factor with the file outbox: the code a user receives is in the outbox as a JSON line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-outbox-'));
  try {
    const clock = new FrozenClock(T0);
    const ephemeral = new TestEphemeralStore(clock);
    const sender = new FileOutboxSender(join(dir, 'outbox.jsonl'), clock);
    const factor = new OtpFactor(
      { store: new MemoryMfaStore(), ephemeral, codes: new OneTimeCodes(ephemeral, clock, randomBytes(32)), sender, clock },
      { channel: 'email', issuer: 'Portcullis' },
    );
    const out = await factor.enroll({ userId: 'u1', address: 'alice@example.com' });
    assert.equal(out.sentTo, 'a***@example.com');
    const [mail] = await readOutbox(sender.path);
    assert.equal(mail!.channel, 'email');
    assert.equal(mail!.to, 'alice@example.com');
    assert.equal(mail!.subject, 'Your Portcullis verification code');
    assert.equal(mail!.sentAt, T0);
    await factor.confirm({ userId: 'u1' }, mail!.code);
    assert.equal(await factor.isEnrolled('u1'), true);
    assert.deepEqual(factor.amr, ['otp']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('attack: a throttled re-enrolment to another number does not let the first number\'s code confirm the second (auth.throttled, address unchanged)', async () => {
  const s = setup();
  await s.factor.enroll({ userId: 'u1', address: '+33612345689' });
  const codeForOwnNumber = s.sender.last().code;
  // within the resend interval: nothing is sent to the second number, so it must not become the pending one
  await rejectsWith(s.factor.enroll({ userId: 'u1', address: '+15550001111' }), 'auth.throttled');
  assert.equal(s.sender.sent.length, 1);
  await s.factor.confirm({ userId: 'u1' }, codeForOwnNumber);
  const e = await s.store.getEnrollment('u1', 'sms');
  assert.equal(e?.status, 'confirmed');
  assert.equal(e?.data['address'], '+33612345689');
});
