/** Brute-force limits: growing delays, temporary lock, per-IP counting, shared across nodes, admin unlock, fail closed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { canonicalAddress, countedAddress, DEFAULT_LOCKOUT_POLICY, Lockout } from '../../src/identity/lockout.js';
import type { EphemeralStore } from '../../src/core/ephemeral.js';
import { openDurableStore, openEphemeralStore, type DurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { randomRedisPrefix, redisUrl, serviceDescribe } from '../support/services.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);
const T0 = Date.UTC(2030, 0, 1);

function setup() {
  const clock = new FrozenClock(T0);
  const ephemeral = new TestEphemeralStore(clock);
  return { clock, ephemeral, lockout: new Lockout(ephemeral, clock) };
}

const wrong = () => Promise.reject(new PortcullisError('auth.invalid-credentials', 'invalid user name or password'));

test('5 failures are free; then delays grow 1 s, 2 s, 4 s…', async () => {
  const { clock, lockout } = setup();
  const who = { account: 'u1' };
  for (let i = 0; i < 5; i++) await rejectsWith(lockout.guard(who, wrong), 'auth.invalid-credentials');
  await lockout.check(who);
  await rejectsWith(lockout.guard(who, wrong), 'auth.invalid-credentials'); // 6th
  await assert.rejects(lockout.check(who), (e: PortcullisError) => e.code === 'auth.throttled' && e.details?.retryAfterMs === 1_000);
  clock.advance(1_000);
  await rejectsWith(lockout.guard(who, wrong), 'auth.invalid-credentials'); // 7th
  await assert.rejects(lockout.check(who), (e: PortcullisError) => e.code === 'auth.throttled' && e.details?.retryAfterMs === 2_000);
  clock.advance(2_000);
  await rejectsWith(lockout.guard(who, wrong), 'auth.invalid-credentials'); // 8th
  await assert.rejects(lockout.check(who), (e: PortcullisError) => e.details?.retryAfterMs === 4_000);
});

test('the 10th failure locks the account for 15 minutes; then it opens again', async () => {
  const { clock, lockout } = setup();
  for (let i = 0; i < 10; i++) {
    await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
    clock.advance(60_000);
  }
  await assert.rejects(lockout.check({ account: 'u1' }), (e: PortcullisError) => e.code === 'auth.locked' && e.status === 429);
  assert.equal((await lockout.state('account', 'u1')).locked, true);
  clock.advance(DEFAULT_LOCKOUT_POLICY.account.lockMs - 60_000);
  await lockout.check({ account: 'u1' });
  await lockout.guard({ account: 'u1' }, async () => 'ok');
});

test('admin unlock clears the lock and the count', async () => {
  const { clock, lockout } = setup();
  for (let i = 0; i < 10; i++) {
    await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
    clock.advance(60_000);
  }
  await rejectsWith(lockout.check({ account: 'u1' }), 'auth.locked');
  await lockout.unlockAccount('u1');
  assert.deepEqual(await lockout.state('account', 'u1'), { failures: 0, blockedUntil: 0, locked: false });
  assert.equal(await lockout.guard({ account: 'u1' }, async () => 'ok'), 'ok');
});

test('attack: credential stuffing — one address trying many accounts is locked by the per-IP counter', async () => {
  const { clock, lockout } = setup();
  const ip = '198.51.100.23';
  // The attacker waits out every delay, as fast as the limits allow.
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter; i++) {
    await rejectsWith(lockout.guard({ account: `user${i}`, ip }, wrong), 'auth.invalid-credentials');
    const { blockedUntil, locked } = await lockout.state('ip', ip);
    if (i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter - 1) {
      assert.equal(locked, false);
      clock.set(Math.max(clock.now(), blockedUntil));
    }
  }
  assert.ok(clock.now() - T0 < DEFAULT_LOCKOUT_POLICY.ip.windowMs, 'the lock is reachable inside the counting window');
  await rejectsWith(lockout.check({ account: 'fresh-user', ip }), 'auth.locked');
  await lockout.check({ account: 'fresh-user', ip: '198.51.100.24' });
  await lockout.unlockIp(ip);
  await lockout.check({ account: 'fresh-user', ip });
});

test('attack: an address written another way (IPv4-mapped IPv6, upper case, uncompressed) is the same subject, locked and unlocked as one', async () => {
  const { clock, lockout } = setup();
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter; i++) {
    // the attacker alternates spellings of one address, hoping for separate counters
    const ip = i % 2 === 0 ? '203.0.113.9' : '::FFFF:203.0.113.9';
    await rejectsWith(lockout.guard({ account: `user${i}`, ip }, wrong), 'auth.invalid-credentials');
    const { blockedUntil, locked } = await lockout.state('ip', ip);
    if (!locked) clock.set(Math.max(clock.now(), blockedUntil));
  }
  await rejectsWith(lockout.check({ ip: '203.0.113.9' }), 'auth.locked');
  await rejectsWith(lockout.check({ ip: '0:0:0:0:0:ffff:cb00:7109' }), 'auth.locked');
  await lockout.unlockIp('::ffff:203.0.113.9');
  await lockout.check({ ip: '203.0.113.9' });
  assert.equal((await lockout.state('ip', '203.0.113.9')).failures, 0);
});

/** Fails from `addresses` in turn, waiting out every delay, until the counter locks (lockAfter failures). */
async function failUntilLocked(s: ReturnType<typeof setup>, addresses: string[]): Promise<void> {
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter; i++) {
    const ip = addresses[i % addresses.length]!;
    await rejectsWith(s.lockout.guard({ account: `user${i}`, ip }, wrong), 'auth.invalid-credentials');
    const { blockedUntil, locked } = await s.lockout.state('ip', ip);
    if (!locked) s.clock.set(Math.max(s.clock.now(), blockedUntil));
  }
}

test('attack: one IPv6 host rotating addresses inside its /64 shares one counter and is locked as one', async () => {
  const s = setup();
  // a new interface id for every guess, as SLAAC privacy addresses or a routed /64 allow
  const rotating = Array.from({ length: DEFAULT_LOCKOUT_POLICY.ip.lockAfter }, (_, i) => `2001:db8:1:2:${((i * 7919) % 0x10000).toString(16)}:${i.toString(16)}:abcd:${(i + 1).toString(16)}`);
  await failUntilLocked(s, rotating);
  await rejectsWith(s.lockout.check({ ip: '2001:db8:1:2::1' }), 'auth.locked');
  await rejectsWith(s.lockout.check({ ip: '2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF' }), 'auth.locked');
  assert.equal((await s.lockout.state('ip', '2001:db8:1:2::99')).failures, DEFAULT_LOCKOUT_POLICY.ip.lockAfter);
  // the neighbouring /64s are other hosts
  await s.lockout.check({ ip: '2001:db8:1:3::1' });
  await s.lockout.check({ ip: '2001:db8:1:1:ffff:ffff:ffff:ffff' });
  assert.equal((await s.lockout.state('ip', '2001:db8:1:3::1')).failures, 0);
});

test('admin unlock of any address inside a locked /64 lifts the lock of the whole /64', async () => {
  const s = setup();
  await failUntilLocked(s, ['2001:db8:aa:bb::1', '2001:db8:aa:bb::2']);
  await rejectsWith(s.lockout.check({ ip: '2001:db8:aa:bb::3' }), 'auth.locked');
  await s.lockout.unlockIp('2001:db8:aa:bb:1:2:3:4');
  await s.lockout.check({ ip: '2001:db8:aa:bb::1' });
  await s.lockout.check({ ip: '2001:db8:aa:bb::3' });
  assert.deepEqual(await s.lockout.state('ip', '2001:db8:aa:bb::2'), { failures: 0, blockedUntil: 0, locked: false });
});

test('an IPv4-mapped IPv6 address counts as its IPv4 address, not as a /64 of ::ffff:0:0', async () => {
  const s = setup();
  await failUntilLocked(s, ['::ffff:192.0.2.44', '192.0.2.44']);
  await rejectsWith(s.lockout.check({ ip: '192.0.2.44' }), 'auth.locked');
  await s.lockout.check({ ip: '192.0.2.45' });
  await s.lockout.check({ ip: '::ffff:192.0.2.45' });
});

test('the IPv6 prefix counted is configurable: /128 counts single addresses, /48 a whole site', async () => {
  const clock = new FrozenClock(T0);
  const ephemeral = new TestEphemeralStore(clock);
  const perAddress = { clock, ephemeral, lockout: new Lockout(ephemeral, clock, { ...DEFAULT_LOCKOUT_POLICY, ipv6Prefix: 128 }) };
  await failUntilLocked(perAddress, ['2001:db8:5:6::1']);
  await rejectsWith(perAddress.lockout.check({ ip: '2001:db8:5:6::1' }), 'auth.locked');
  await perAddress.lockout.check({ ip: '2001:db8:5:6::2' });
  const perSite = { clock, ephemeral, lockout: new Lockout(ephemeral, clock, { ...DEFAULT_LOCKOUT_POLICY, ipv6Prefix: 48 }, 'site') };
  await failUntilLocked(perSite, ['2001:db8:7:1::1', '2001:db8:7:ffff::1']);
  await rejectsWith(perSite.lockout.check({ ip: '2001:db8:7:abcd::1' }), 'auth.locked');
  await perSite.lockout.check({ ip: '2001:db8:8::1' });
});

test('canonicalAddress: one spelling per address; anything else is not an address', () => {
  assert.equal(canonicalAddress('192.0.2.7'), '192.0.2.7');
  assert.equal(canonicalAddress('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('::1'), '::1');
  for (const bad of ['', 'localhost', '192.0.2.256', '1.2.3', 'fe80::1%eth0', '[::1]', '::1/128']) assert.equal(canonicalAddress(bad), undefined, bad);
});

test('countedAddress: IPv4 (mapped or not) as the address, IPv6 as its network and prefix, /128 as the address', () => {
  assert.equal(countedAddress('2001:DB8:1:2:a:b:c:d', 64), '2001:db8:1:2::/64');
  assert.equal(countedAddress('2001:db8:abcd:ef12:1::', 56), '2001:db8:abcd:ef00::/56');
  assert.equal(countedAddress('2001:db8:abcd:ef12::1', 48), '2001:db8:abcd::/48');
  assert.equal(countedAddress('2001:db8::1', 128), '2001:db8::1');
  assert.equal(countedAddress('::ffff:192.0.2.7', 64), '192.0.2.7');
  assert.equal(countedAddress('192.0.2.7', 64), '192.0.2.7');
  assert.equal(countedAddress('::1', 64), '::/64');
  assert.equal(countedAddress('not-an-address', 64), undefined);
});

test('attack: resetting the IP counter by signing in to an own account does not work', async () => {
  const { lockout } = setup();
  const ip = '198.51.100.23';
  for (let i = 0; i < 3; i++) await rejectsWith(lockout.guard({ account: `victim${i}`, ip }, wrong), 'auth.invalid-credentials');
  await lockout.guard({ account: 'attacker', ip }, async () => 'ok');
  assert.equal((await lockout.state('ip', ip)).failures, 3);
});

test('a success clears the account’s failures', async () => {
  const { lockout } = setup();
  for (let i = 0; i < 4; i++) await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  await lockout.guard({ account: 'u1' }, async () => 'ok');
  assert.equal((await lockout.state('account', 'u1')).failures, 0);
});

test('the cap holds across nodes: two Lockout instances sharing one ephemeral store count together', async () => {
  const { clock, ephemeral } = setup();
  const nodeA = new Lockout(ephemeral, clock);
  const nodeB = new Lockout(ephemeral, clock);
  for (let i = 0; i < 6; i++) await rejectsWith((i % 2 ? nodeA : nodeB).guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  await rejectsWith(nodeA.check({ account: 'u1' }), 'auth.throttled');
  await rejectsWith(nodeB.check({ account: 'u1' }), 'auth.throttled');
});

test('errors that are not the user’s failure (a store outage) are not counted', async () => {
  const { lockout } = setup();
  await assert.rejects(lockout.guard({ account: 'u1' }, () => Promise.reject(new PortcullisError('store.unavailable', 'down'))));
  assert.equal((await lockout.state('account', 'u1')).failures, 0);
});

test('fail closed: when the ephemeral store is down no attempt is let through', async () => {
  const { ephemeral, lockout } = setup();
  ephemeral.down = true;
  let ran = false;
  await assert.rejects(lockout.guard({ account: 'u1' }, async () => void (ran = true)));
  assert.equal(ran, false);
});

test('a lock that engages is reported once to onLock listeners, with its subject and end (the address, under its looser limit, is not locked); a failing listener does not undo the lock', async () => {
  const { clock, lockout } = setup();
  const seen: Array<{ kind: string; id: string; until: number; failures: number }> = [];
  lockout.onLock(() => {
    throw new Error('listener down');
  });
  lockout.onLock((e) => void seen.push(e));
  for (let i = 0; i < 10; i++) {
    await rejectsWith(lockout.guard({ account: 'u1', ip: '203.0.113.9' }, wrong), 'auth.invalid-credentials');
    if (i < 9) assert.equal(seen.length, 0, `no lock before the 10th failure (after ${i + 1})`);
    clock.advance(60_000);
  }
  assert.deepEqual(seen, [{ kind: 'account', id: 'u1', until: T0 + 9 * 60_000 + DEFAULT_LOCKOUT_POLICY.account.lockMs, failures: 10 }]);
  await rejectsWith(lockout.check({ account: 'u1' }), 'auth.locked');
  // Locked attempts are refused before they count: no second report.
  await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.locked');
  assert.equal(seen.length, 1);
});

test('attack: a right password does not reset the second factor’s failures (TOTP guesses, password again, more guesses)', async () => {
  const { lockout } = setup();
  const factor = { account: 'u1', step: 'factor' as const };
  const badCode = () => Promise.reject(new PortcullisError('mfa.invalid-code', 'invalid code'));
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 3; i++) await rejectsWith(lockout.guard(factor, badCode), 'mfa.invalid-code');
    await lockout.guard({ account: 'u1' }, async () => 'password ok');
  }
  assert.equal((await lockout.state('account', 'u1')).failures, 6);
  await rejectsWith(lockout.check(factor), 'auth.throttled');
  // the password step is its own counter: it is not held up by the factor's failures
  await lockout.check({ account: 'u1' });
  // a right code clears the factor's failures
  await lockout.unlockAccount('u1');
  await rejectsWith(lockout.guard(factor, badCode), 'mfa.invalid-code');
  await lockout.guard(factor, async () => 'code ok');
  assert.equal((await lockout.state('account', 'u1')).failures, 0);
});

/** 30 wrong guesses at once, each taking a while (as an Argon2id verify does): only those the cap allows in sequence are evaluated. */
async function concurrentGuesses(a: Lockout, b: Lockout): Promise<void> {
  let evaluated = 0;
  const slowWrong = async () => {
    evaluated++;
    await new Promise((r) => setTimeout(r, 30));
    throw new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
  };
  const codes = await Promise.all(
    Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).guard({ account: 'u1', ip: '198.51.100.7' }, slowWrong).then(() => 'ok', (e: PortcullisError) => e.code)),
  );
  const free = DEFAULT_LOCKOUT_POLICY.account.freeAttempts;
  // Sequentially: `free` failures without delay, one more before the first delay starts.
  assert.equal(evaluated, free + 1);
  assert.equal(codes.filter((c) => c === 'auth.invalid-credentials').length, free + 1);
  assert.equal(codes.filter((c) => c === 'auth.throttled').length, 30 - free - 1);
  assert.equal((await a.state('account', 'u1')).failures, free + 1);
  await rejectsWith(a.check({ account: 'u1' }), 'auth.throttled');
}

test('attack: concurrent password guesses cannot get past the attempt cap (attempts reserved before they run)', async () => {
  const { clock, ephemeral } = setup();
  await concurrentGuesses(new Lockout(ephemeral, clock), new Lockout(ephemeral, clock));
});

test('attack: concurrent guesses cannot get past the attempt cap, on the memory ephemeral store', async () => {
  const clock = new FrozenClock(T0);
  const ephemeral = new MemoryEphemeralStore({ clock });
  try {
    await concurrentGuesses(new Lockout(ephemeral, clock), new Lockout(ephemeral, clock));
  } finally {
    await ephemeral.close();
  }
});

test('in-flight slots are given back: after concurrent attempts end, a lone attempt runs', async () => {
  const { clock, lockout } = setup();
  const slow = (ok: boolean) => async () => {
    await new Promise((r) => setTimeout(r, 10));
    if (!ok) throw new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
    return 'ok';
  };
  await Promise.all([1, 2, 3].map(() => rejectsWith(lockout.guard({ account: 'u2' }, slow(false)), 'auth.invalid-credentials')));
  clock.advance(1);
  assert.equal(await lockout.guard({ account: 'u2' }, slow(true)), 'ok');
  assert.equal(await lockout.guard({ account: 'u2' }, slow(true)), 'ok');
});

test('one address with many people signing in at once (a NAT) is not throttled by the attempts in flight', async () => {
  const { lockout } = setup();
  const slowRight = async () => {
    await new Promise((r) => setTimeout(r, 20));
    return 'ok';
  };
  const n = DEFAULT_LOCKOUT_POLICY.ip.lockAfter - 1;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => lockout.guard({ account: `nat-user-${i}`, ip: '203.0.113.9' }, slowRight).catch((e: PortcullisError) => e.code)));
  assert.deepEqual(new Set(results), new Set(['ok']));
});

test('attack: a burst of guesses at many accounts from one address is cut at the address lock threshold', async () => {
  const { lockout } = setup();
  let evaluated = 0;
  const slowWrong = async () => {
    evaluated++;
    await new Promise((r) => setTimeout(r, 20));
    throw new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
  };
  const { lockAfter } = DEFAULT_LOCKOUT_POLICY.ip;
  const codes = await Promise.all(Array.from({ length: lockAfter + 20 }, (_, i) => lockout.guard({ account: `sprayed-${i}`, ip: '203.0.113.10' }, slowWrong).then(() => 'ok', (e: PortcullisError) => e.code)));
  assert.equal(evaluated, lockAfter);
  assert.equal(codes.filter((c) => c === 'auth.throttled').length, 20);
  await rejectsWith(lockout.check({ ip: '203.0.113.10' }), 'auth.locked');
});

/**
 * Nodes on `ephemeral: memory` over one SQLite file: `restart()` drops the node's memory
 * (a new MemoryEphemeralStore) and builds a new Lockout on the same durable store.
 */
async function durableNodes(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-lockout-'));
  const clock = new FrozenClock(T0);
  const durable: DurableStore = await openDurableStore('sqlite:lockout.db', { baseDir: dir });
  const memories: MemoryEphemeralStore[] = [];
  t.after(async () => {
    await Promise.all(memories.map((m) => m.close()));
    await durable.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const subjectKey = new Uint8Array(32).fill(7);
  const start = async () => {
    const memory = new MemoryEphemeralStore({ clock });
    memories.push(memory);
    const lockout = new Lockout(memory, clock, DEFAULT_LOCKOUT_POLICY, 'auth', { store: durable, subjectKey });
    await lockout.ready();
    return lockout;
  };
  return { clock, durable, start };
}

test('attack: a restart of a node on memory does not lift a lock: the locked account and address stay locked, with the same end', async (t) => {
  const { clock, start } = await durableNodes(t);
  let lockout = await start();
  const ip = '198.51.100.40';
  await failUntilLocked({ clock, ephemeral: undefined as never, lockout }, [ip]);
  for (let i = 0; i < 10; i++) {
    await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
    const st = await lockout.state('account', 'u1');
    if (!st.locked) clock.set(Math.max(clock.now(), st.blockedUntil));
  }
  const before = { account: await lockout.state('account', 'u1'), ip: await lockout.state('ip', ip) };
  assert.equal(before.account.locked && before.ip.locked, true);
  clock.advance(60_000);
  lockout = await start();
  assert.deepEqual(await lockout.state('account', 'u1'), before.account);
  assert.deepEqual(await lockout.state('ip', ip), before.ip);
  let ran = false;
  await assert.rejects(
    lockout.guard({ account: 'u1' }, async () => void (ran = true)),
    (e: PortcullisError) => e.code === 'auth.locked' && e.details?.subject === 'account' && e.details?.retryAfterMs === before.account.blockedUntil - clock.now(),
  );
  await assert.rejects(lockout.guard({ account: 'someone-else', ip }, async () => void (ran = true)), (e: PortcullisError) => e.code === 'auth.locked' && e.details?.subject === 'ip');
  assert.equal(ran, false, 'no attempt was evaluated');
  // the lock ends when it would have ended without the restart
  clock.set(before.account.blockedUntil);
  lockout = await start();
  await lockout.check({ account: 'u1' });
});

test('attack: failures short of a lock survive a restart: the delay and the count go on from where they were', async (t) => {
  const { clock, start } = await durableNodes(t);
  let lockout = await start();
  for (let i = 0; i < 6; i++) await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  lockout = await start();
  await assert.rejects(lockout.check({ account: 'u1' }), (e: PortcullisError) => e.code === 'auth.throttled' && e.details?.retryAfterMs === 1_000);
  clock.advance(1_000);
  await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials'); // 7th
  await assert.rejects(lockout.check({ account: 'u1' }), (e: PortcullisError) => e.code === 'auth.throttled' && e.details?.retryAfterMs === 2_000);
  // the window counts from the first failure, not from the restart
  clock.set(T0 + DEFAULT_LOCKOUT_POLICY.account.windowMs);
  lockout = await start();
  assert.deepEqual(await lockout.state('account', 'u1'), { failures: 0, blockedUntil: 0, locked: false });
});

test('a success clears the kept failures and an admin unlock the kept lock: neither comes back after a restart', async (t) => {
  const { clock, durable, start } = await durableNodes(t);
  let lockout = await start();
  for (let i = 0; i < 4; i++) await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  await lockout.guard({ account: 'u1' }, async () => 'ok');
  for (let i = 0; i < 10; i++) {
    await rejectsWith(lockout.guard({ account: 'u2', step: 'factor' }, () => Promise.reject(new PortcullisError('mfa.invalid-code', 'invalid code'))), 'mfa.invalid-code');
    const st = await lockout.state('account', 'u2');
    if (!st.locked) clock.set(Math.max(clock.now(), st.blockedUntil));
  }
  assert.equal((await lockout.state('account', 'u2')).locked, true);
  await failUntilLocked({ clock, ephemeral: undefined as never, lockout }, ['2001:db8:5:6::1']);
  await lockout.unlockAccount('u2');
  await lockout.unlockIp('2001:db8:5:6:ffff::9');
  const mine = (await durable.listLockoutStates(clock.now())).filter((r) => ['u1', 'u2', '2001:db8:5:6::/64'].includes(r.subject));
  assert.deepEqual(mine, []);
  lockout = await start();
  for (const [kind, id] of [['account', 'u1'], ['account', 'u2'], ['ip', '2001:db8:5:6::1']] as const) assert.deepEqual(await lockout.state(kind, id), { failures: 0, blockedUntil: 0, locked: false }, `${kind} ${id}`);
});

test('a name that matched no user is kept as a keyed digest, never as typed (it may be a password typed in the wrong field)', async (t) => {
  const { durable, start } = await durableNodes(t);
  let lockout = await start();
  const typed = 'email:correct horse battery staple';
  for (let i = 0; i < 3; i++) await rejectsWith(lockout.guard({ account: typed, ip: '192.0.2.9' }, wrong), 'auth.invalid-credentials');
  const rows = await durable.listLockoutStates(T0);
  assert.deepEqual(rows.map((r) => [r.counter, r.failures]), [['auth:account', 3], ['auth:ip', 3]]);
  const kept = rows.find((r) => r.counter === 'auth:account')!.subject;
  assert.match(kept, /^email:hmac-sha256:[A-Za-z0-9_-]{43}$/);
  assert.ok(!kept.includes('horse'));
  lockout = await start();
  assert.equal((await lockout.state('account', typed)).failures, 3);
});

test('fail closed: a failure the durable store cannot take refuses the attempt with unavailable; the node keeps counting it', async (t) => {
  const { durable, start } = await durableNodes(t);
  const lockout = await start();
  await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  await durable.close();
  await assert.rejects(lockout.guard({ account: 'u1' }, wrong), (e: PortcullisError) => e.code === 'unavailable' && e.status === 503);
  assert.equal((await lockout.state('account', 'u1')).failures, 2);
  // an unlock that cannot be kept is refused, and the count stays
  await rejectsWith(lockout.unlockAccount('u1'), 'unavailable');
  assert.equal((await lockout.state('account', 'u1')).failures, 2);
});

test('fail closed: a node whose kept counters cannot be loaded refuses every attempt with unavailable', async (t) => {
  const { durable, start } = await durableNodes(t);
  await durable.close();
  await rejectsWith(start(), 'unavailable');
});

await serviceDescribe('redis', 'lockout on Redis (needs Redis)', () => {
  test('attack: concurrent guesses on two nodes cannot get past the attempt cap (needs Redis)', async () => {
    const clock = new FrozenClock(T0);
    const prefix = randomRedisPrefix();
    const stores: EphemeralStore[] = await Promise.all([openEphemeralStore(redisUrl(), { prefix }), openEphemeralStore(redisUrl(), { prefix })]);
    try {
      await concurrentGuesses(new Lockout(stores[0]!, clock), new Lockout(stores[1]!, clock));
      await new Lockout(stores[0]!, clock).unlockAccount('u1');
      await new Lockout(stores[0]!, clock).unlockIp('198.51.100.7');
    } finally {
      await Promise.all(stores.map((st) => st.close()));
    }
  });
});

test('with a shared ephemeral store (Redis), a name that matched no user is counted under its keyed digest, never as typed', async () => {
  const clock = new FrozenClock(T0);
  const inner = new TestEphemeralStore(clock);
  const keys: string[] = [];
  // every key the lockout hands the store (as it would reach Redis)
  const recording = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') keys.push(args[0]);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as EphemeralStore;
  const lockout = new Lockout(recording, clock, DEFAULT_LOCKOUT_POLICY, 'auth', { subjectKey: new Uint8Array(32).fill(9) });
  const typed = 'email:correct horse battery staple';
  for (let i = 0; i < 3; i++) await rejectsWith(lockout.guard({ account: typed, ip: '192.0.2.9' }, wrong), 'auth.invalid-credentials');
  assert.ok(keys.length > 0);
  assert.deepEqual(keys.filter((k) => k.includes('horse') || k.includes('correct')), []);
  assert.ok(keys.some((k) => /^lockout:auth:account:email%3Ahmac-sha256%3A[A-Za-z0-9_-]{43}:n$/.test(k)), keys.join(' '));
  // the digest is the same name on every node with the key: the count and an admin's view agree
  assert.equal((await lockout.state('account', typed)).failures, 3);
  // known accounts (user ids) are counted as they are
  await rejectsWith(lockout.guard({ account: 'u1' }, wrong), 'auth.invalid-credentials');
  assert.ok(keys.includes('lockout:auth:account:u1:n'));
});
