import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { decryptBody, encryptBody, EncryptionKeys } from '../../src/crypto/jwe/index.js';
import { openDurableStore } from '../../src/store/index.js';

const MIN = 60_000;
const DAY = 86_400_000;
const ctx = { aud: 'orders-api' };

async function setup(types: Array<'P-256' | 'X25519' | 'RSA-3072'> = ['P-256']) {
  const store = await openDurableStore('sqlite::memory:');
  const clock = new FrozenClock(Date.UTC(2026, 0, 1));
  const env = await Envelope.open(store, randomBytes(32));
  const keys = new EncryptionKeys(store, env, clock, { types, rotationIntervalMs: 30 * DAY, decryptOverlapMs: 60 * MIN, prepublishMs: 60 * MIN });
  return { store, clock, env, keys };
}

async function encryptToCurrent(keys: EncryptionKeys, type?: 'P-256' | 'X25519' | 'RSA-3072') {
  const cur = keys.current(type);
  return encryptBody('secret order', { key: cur.publicKey, kid: cur.kid, alg: cur.alg, context: ctx });
}

test('encryption keys: maintain creates one key per type, published with use enc and without private members', async () => {
  const { keys, store } = await setup(['P-256', 'X25519']);
  assert.equal(await keys.maintain(), true);
  const jwks = keys.jwks().keys;
  assert.deepEqual(jwks.map((k) => k.crv).sort(), ['P-256', 'X25519']);
  for (const k of jwks) {
    assert.equal(k.use, 'enc');
    assert.equal(k.alg, 'ECDH-ES+A256KW');
    assert.equal('d' in k, false);
  }
  assert.equal(await keys.maintain(), false, 'a second maintain changes nothing');
  for (const t of ['P-256', 'X25519'] as const) {
    const r = await decryptBody(await encryptToCurrent(keys, t), { getKey: keys.getKey, context: ctx });
    assert.equal(new TextDecoder().decode(r.plaintext), 'secret order');
  }
  await store.close();
});

test('encryption keys: private keys are stored encrypted, and another node loads the same keys from the store', async () => {
  const { keys, store, env, clock } = await setup(['RSA-3072']);
  await keys.maintain();
  const stored = (await store.listKeys()).filter((k) => k.use === 'enc');
  assert.equal(stored.length, 1);
  assert.ok(stored[0]!.privateJwk.startsWith('pc1.'), 'envelope ciphertext');
  assert.equal(stored[0]!.privateJwk.includes('"d"'), false);
  const other = new EncryptionKeys(store, env, clock, { types: ['RSA-3072'], rotationIntervalMs: 30 * DAY, decryptOverlapMs: 60 * MIN, prepublishMs: 60 * MIN });
  await other.load();
  const r = await decryptBody(await encryptToCurrent(keys, 'RSA-3072'), { getKey: other.getKey, context: ctx });
  assert.equal(new TextDecoder().decode(r.plaintext), 'secret order');
  await store.close();
});

test('encryption keys: after rotation the retired key leaves the JWKS but keeps decrypting for the overlap, then jwe.unknown-key', async () => {
  const { keys, clock, store } = await setup();
  await keys.maintain();
  const before = await encryptToCurrent(keys);
  const oldKid = keys.current().kid;
  const { activated, retired } = await keys.rotate();
  assert.equal(retired, oldKid);
  assert.deepEqual(keys.jwks().keys.map((k) => k.kid), [activated], 'only the new key is published');
  assert.ok(await decryptBody(before, { getKey: keys.getKey, context: ctx }), 'retired key decrypts inside the overlap');
  assert.ok(await decryptBody(await encryptToCurrent(keys), { getKey: keys.getKey, context: ctx }));
  clock.advance(60 * MIN);
  await assert.rejects(decryptBody(before, { getKey: keys.getKey, context: ctx }), { code: 'jwe.unknown-key' });
  assert.equal(await keys.maintain(), true, 'maintain deletes the expired key');
  assert.equal((await store.listKeys()).some((k) => k.kid === oldKid), false);
  await store.close();
});

test('encryption keys: maintain rotates on schedule; keys made concurrently by two nodes converge on one current key', async () => {
  const { keys, clock, store, env } = await setup();
  await keys.maintain();
  const first = keys.current().kid;
  clock.advance(30 * DAY - 60 * MIN);
  assert.equal(await keys.maintain(), true, 'the next key is stored an hour ahead');
  assert.equal(keys.current().kid, first);
  clock.advance(60 * MIN);
  assert.notEqual(keys.current().kid, first);
  assert.equal(await keys.maintain(), true, 'the superseded key is retired');
  assert.ok(keys.decryptionKey(first), 'the previous key still decrypts');
  // Another node, not having seen the rotation, creates its own key at the same moment.
  const racer = new EncryptionKeys(store, env, clock, { types: ['P-256'], rotationIntervalMs: 30 * DAY, decryptOverlapMs: 60 * MIN, prepublishMs: 60 * MIN });
  await racer.rotate();
  await keys.maintain();
  await racer.load();
  assert.equal(keys.jwks().keys.length, 1);
  assert.equal(keys.current().kid, racer.current().kid, 'both nodes publish the same key');
  await store.close();
});

test('encryption keys: they live beside the signing key ring without disturbing it', async () => {
  const { keys, store, env, clock } = await setup();
  const ring = new KeyRing(store, env, clock, { alg: 'ES256', rotationIntervalMs: 30 * DAY, prepublishMs: 60 * MIN, maxTokenLifetimeMs: 11 * MIN });
  await ring.maintain();
  await keys.maintain();
  await ring.maintain();
  assert.deepEqual(ring.jwks().keys.map((k) => k.use), ['sig']);
  assert.deepEqual(keys.jwks().keys.map((k) => k.use), ['enc']);
  await ring.rotate();
  await keys.load();
  assert.equal(keys.list().filter((k) => k.state === 'current').length, 1);
  assert.equal(ring.getVerificationKey(keys.current().kid), undefined, 'an encryption key never verifies signatures');
  await assert.rejects(
    decryptBody(await encryptToCurrent(keys), { getKey: (kid) => (kid && ring.getVerificationKey(kid) ? { key: ring.getVerificationKey(kid)!.key } : undefined), context: ctx }),
    { code: 'jwe.unknown-key' },
  );
  await store.close();
});

test('encryption keys: with no current key, current() fails closed with unavailable', async () => {
  const { keys, store } = await setup();
  await keys.load();
  assert.throws(() => keys.current(), { code: 'unavailable' });
  assert.deepEqual(keys.jwks().keys, []);
  await store.close();
});
