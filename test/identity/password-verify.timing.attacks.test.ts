/**
 * Account enumeration by timing: an unknown login name costs one verification against a
 * dummy hash at today's parameters. A user whose stored hash is legacy PBKDF2, or Argon2id
 * at weaker parameters, must cost that verification too, else the check answers in another
 * time than for an unknown name and tells those accounts apart. Asserted through the
 * hasher interface (which hashes each path verifies), never by measuring time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { PasswordHashers, type PasswordHasher } from '../../src/identity/passwords/hasher.js';
import { Pbkdf2Hasher } from '../../src/identity/passwords/pbkdf2.js';

/** A hasher that records every hash it is asked to verify. */
function recording(inner: PasswordHasher): PasswordHasher & { verified: string[]; hashed: string[] } {
  const verified: string[] = [];
  const hashed: string[] = [];
  return {
    id: inner.id,
    verified,
    hashed,
    understands: (h) => inner.understands(h),
    needsRehash: (h) => inner.needsRehash(h),
    async hash(p) {
      const h = await inner.hash(p);
      hashed.push(h);
      return h;
    },
    verify(h, p) {
      verified.push(h);
      return inner.verify(h, p);
    },
  };
}

const PASSWORD = 'correct horse battery staple';

async function setup() {
  const preferred = recording(new Argon2idHasher());
  const legacy = recording(new Pbkdf2Hasher(1_000));
  const hashers = new PasswordHashers(preferred, [legacy]);
  // the unknown-user path: one verification against the dummy hash, made at today's parameters
  assert.deepEqual(await hashers.verify(undefined, PASSWORD), { ok: false });
  const dummy = preferred.verified[0]!;
  assert.equal(preferred.needsRehash(dummy), false, 'the dummy hash is at the configured parameters');
  preferred.verified.length = 0;
  return { hashers, preferred, legacy, dummy };
}

test('attack: account enumeration by timing — a wrong password for a legacy PBKDF2 hash also costs the dummy verification at today’s parameters', async () => {
  const { hashers, preferred, legacy, dummy } = await setup();
  const stored = await new Pbkdf2Hasher(1_000).hash(PASSWORD);
  assert.deepEqual(await hashers.verify(stored, 'Tr0ub4dor&3'), { ok: false });
  assert.deepEqual(legacy.verified, [stored]);
  assert.deepEqual(preferred.verified, [dummy]);
});

test('attack: account enumeration by timing — a wrong password for an Argon2id hash weaker than configured also costs the dummy verification', async () => {
  const { hashers, preferred, dummy } = await setup();
  const weak = await new Argon2idHasher({ memoryCost: 7168, timeCost: 1 }).hash(PASSWORD);
  assert.deepEqual(await hashers.verify(weak, 'Tr0ub4dor&3'), { ok: false });
  assert.deepEqual(preferred.verified.slice().sort(), [dummy, weak].sort());
});

test('a right password for a legacy hash costs the dummy verification too, and still yields the rehash', async () => {
  const { hashers, preferred, dummy } = await setup();
  const stored = await new Pbkdf2Hasher(1_000).hash(PASSWORD);
  const r = await hashers.verify(stored, PASSWORD);
  assert.equal(r.ok, true);
  assert.equal(preferred.needsRehash(r.rehash!), false);
  assert.deepEqual(preferred.verified, [dummy]);
});

test('a hash at today’s parameters costs exactly its own verification (no dummy on top)', async () => {
  const { hashers, preferred } = await setup();
  const stored = await hashers.hash(PASSWORD);
  assert.deepEqual(await hashers.verify(stored, 'Tr0ub4dor&3'), { ok: false });
  assert.deepEqual(preferred.verified, [stored]);
});
