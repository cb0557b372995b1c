/** Password hashing: Argon2id at OWASP parameters, legacy PBKDF2 verified then upgraded, sign-in with lockout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { Lockout } from '../../src/identity/lockout.js';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { PasswordHashers } from '../../src/identity/passwords/hasher.js';
import { Pbkdf2Hasher } from '../../src/identity/passwords/pbkdf2.js';
import { verifyPassword } from '../../src/identity/passwords/verify-password.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { MemoryPasswordStore } from '../support/mfa-memory-stores.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);
// A legacy hasher at few iterations keeps the test fast; the format and upgrade path are the same.
const legacy = new Pbkdf2Hasher(1_000);
const hashers = new PasswordHashers(new Argon2idHasher(), [legacy]);

test('new hashes are Argon2id with at least m=19 MiB, t=2, p=1', async () => {
  const h = await hashers.hash('correct horse battery staple');
  assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.deepEqual(await hashers.verify(h, 'correct horse battery staple'), { ok: true });
  assert.deepEqual(await hashers.verify(h, 'correct horse battery stapl'), { ok: false });
});

test('passwords are NFKC-normalised: a composed and a decomposed "é" verify alike', async () => {
  const h = await hashers.hash('caf\u00e9 au lait tous les jours');
  assert.equal((await hashers.verify(h, 'cafe\u0301 au lait tous les jours')).ok, true);
});

test('hash upgrade: a legacy PBKDF2 hash verifies and yields an Argon2id rehash', async () => {
  const old = await legacy.hash('correct horse battery staple');
  assert.match(old, /^\$pbkdf2-sha256\$i=1000\$/);
  const wrong = await hashers.verify(old, 'Tr0ub4dor&3');
  assert.deepEqual(wrong, { ok: false });
  const right = await hashers.verify(old, 'correct horse battery staple');
  assert.equal(right.ok, true);
  assert.match(right.rehash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.deepEqual(await hashers.verify(right.rehash!, 'correct horse battery staple'), { ok: true });
});

test('an Argon2id hash with weaker parameters than today’s is upgraded too', async () => {
  const weak = await new Argon2idHasher({ memoryCost: 8192, timeCost: 1 }).hash('correct horse battery staple');
  const r = await hashers.verify(weak, 'correct horse battery staple');
  assert.equal(r.ok, true);
  assert.match(r.rehash!, /\$m=19456,t=2,p=1\$/);
  assert.equal(new Argon2idHasher().needsRehash(weak), true);
  assert.equal(new Argon2idHasher().needsRehash(r.rehash!), false);
});

test('each hasher understands only its own format; an unknown format is password.hash-unknown', async () => {
  const a = new Argon2idHasher();
  assert.equal(a.understands('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'), true);
  assert.equal(a.understands('$pbkdf2-sha256$i=1000$c2FsdA==$aGFzaA=='), false);
  assert.equal(legacy.understands('$pbkdf2-sha256$i=1000$c2FsdA==$aGFzaA=='), true);
  await rejectsWith(hashers.verify('$2b$12$abcdefghijklmnopqrstuu', 'x'), 'password.hash-unknown');
});

function signIn() {
  const clock = new FrozenClock(Date.UTC(2030, 0, 1));
  const store = new MemoryPasswordStore();
  const lockout = new Lockout(new TestEphemeralStore(clock), clock);
  return { clock, store, lockout, deps: { hashers, store, lockout } };
}

test('sign-in upgrades a legacy hash in the store once the password is proven', async () => {
  const s = signIn();
  const old = await legacy.hash('correct horse battery staple');
  s.store.hashes.set('u1', old);
  await rejectsWith(verifyPassword(s.deps, { userId: 'u1', account: 'u1', password: 'wrong password' }), 'auth.invalid-credentials');
  assert.equal(s.store.hashes.get('u1'), old);
  // the hash proven against is the one now stored: a change of the password writes over it
  const upgraded = await verifyPassword(s.deps, { userId: 'u1', account: 'u1', password: 'correct horse battery staple' });
  assert.match(s.store.hashes.get('u1')!, /^\$argon2id\$/);
  assert.deepEqual(upgraded, { rehashed: true, verifiedHash: s.store.hashes.get('u1') });
  assert.deepEqual(await verifyPassword(s.deps, { userId: 'u1', account: 'u1', password: 'correct horse battery staple' }), { rehashed: false, verifiedHash: s.store.hashes.get('u1') });
});

test('a rehash never overwrites a password changed meanwhile (compare-and-set)', async () => {
  const s = signIn();
  const old = await legacy.hash('correct horse battery staple');
  s.store.hashes.set('u1', old);
  const changed = await hashers.hash('a brand new passphrase');
  const realGet = s.store.getPasswordHash.bind(s.store);
  s.store.getPasswordHash = async (id) => {
    const h = await realGet(id);
    s.store.hashes.set('u1', changed); // the password changes while sign-in is verifying
    return h;
  };
  // proven against the old hash, which no longer stands: a change written over it is refused
  assert.deepEqual(await verifyPassword(s.deps, { userId: 'u1', account: 'u1', password: 'correct horse battery staple' }), { rehashed: false, verifiedHash: old });
  assert.equal(s.store.hashes.get('u1'), changed);
});

test('attack: user enumeration — an unknown user fails exactly like a wrong password', async () => {
  const s = signIn();
  await rejectsWith(verifyPassword(s.deps, { userId: undefined, account: 'ghost', password: 'anything at all' }), 'auth.invalid-credentials');
});

test('attack: password guessing — the attempt cap delays after 5 failures and locks at 10', async () => {
  const s = signIn();
  s.store.hashes.set('u1', await hashers.hash('correct horse battery staple'));
  const attempt = (password: string) => verifyPassword(s.deps, { userId: 'u1', account: 'u1', ip: '192.0.2.1', password });
  for (let i = 0; i < 6; i++) await rejectsWith(attempt(`guess ${i} guess`), 'auth.invalid-credentials');
  await rejectsWith(attempt('correct horse battery staple'), 'auth.throttled');
  s.clock.advance(1_000);
  for (let i = 6; i < 10; i++) {
    await rejectsWith(attempt(`guess ${i} guess`), 'auth.invalid-credentials');
    s.clock.advance(60_000);
  }
  await rejectsWith(attempt('correct horse battery staple'), 'auth.locked');
  s.clock.advance(15 * 60_000);
  await attempt('correct horse battery staple');
});
