import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { openDurableStore } from '../../src/store/index.js';

const MIN = 60_000;
const DAY = 86_400_000;

async function ring(alg: 'ES256' | 'EdDSA' | 'RS256' = 'ES256') {
  const store = await openDurableStore('sqlite::memory:');
  const clock = new FrozenClock(Date.UTC(2026, 0, 1));
  const env = await Envelope.open(store, randomBytes(32));
  const keys = new KeyRing(store, env, clock, { alg, rotationIntervalMs: 30 * DAY, prepublishMs: 60 * MIN, maxTokenLifetimeMs: 10 * MIN + 30_000 });
  return { store, clock, keys, env };
}

test('keyring: maintain creates a signing key, published in the JWKS without private members', async () => {
  const { keys, store } = await ring();
  assert.equal(await keys.maintain(), true);
  const k = keys.signingKey();
  assert.equal(k.alg, 'ES256');
  const jwks = keys.jwks();
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0]!.kid, k.kid);
  assert.equal(jwks.keys[0]!.use, 'sig');
  assert.equal('d' in jwks.keys[0]!, false);
  assert.equal(await keys.maintain(), false, 'a second maintain changes nothing');
  await store.close();
});

test('keyring: the next key is published prepublish before it signs, then takes over; the old key stays published until its tokens expired', async () => {
  const { keys, clock, store } = await ring();
  await keys.maintain();
  const first = keys.signingKey().kid;
  clock.advance(30 * DAY - 61 * MIN);
  await keys.maintain();
  assert.equal(keys.jwks().keys.length, 1, 'not yet in the pre-publication window');
  clock.advance(2 * MIN);
  await keys.maintain();
  const published = keys.jwks().keys.map((k) => k.kid);
  assert.equal(published.length, 2, 'next key published');
  assert.equal(keys.signingKey().kid, first, 'but the old key still signs');
  const next = published.find((kid) => kid !== first)!;
  clock.advance(60 * MIN);
  await keys.maintain();
  assert.equal(keys.signingKey().kid, next, 'the next key signs after the hand-over');
  assert.ok(keys.getVerificationKey(first), 'the retired key still verifies');
  clock.advance(10 * MIN + 31_000);
  await keys.maintain();
  assert.equal(keys.getVerificationKey(first), undefined, 'gone once every token it signed has expired');
  assert.deepEqual(keys.jwks().keys.map((k) => k.kid).includes(first), false);
  await store.close();
});

test('keyring: rotate activates the published next key at once and keeps the old one for verification', async () => {
  const { keys, store } = await ring('EdDSA');
  await keys.maintain();
  const before = keys.signingKey().kid;
  const r = await keys.rotate();
  assert.notEqual(r.activated, before);
  assert.equal(keys.signingKey().kid, r.activated);
  assert.equal(keys.signingKey().alg, 'EdDSA');
  assert.ok(keys.getVerificationKey(before));
  assert.ok(keys.jwks().keys.some((k) => k.kid === r.next), 'a fresh next key is published for the following rotation');
  const states = Object.fromEntries(keys.list().map((k) => [k.kid, k.state]));
  assert.equal(states[before], 'retired');
  assert.equal(states[r.activated], 'active');
  assert.equal(states[r.next], 'next');
  await store.close();
});

test('keyring: private keys are stored encrypted (no private JWK member in the store)', async () => {
  const { keys, store } = await ring('RS256');
  await keys.maintain();
  for (const k of await store.listKeys()) {
    assert.match(k.privateJwk, /^pc1\./);
    assert.equal(JSON.parse(k.publicJwk).d, undefined);
  }
  await store.close();
});

test('keyring: a second node loading the same store signs with the same key', async () => {
  const { keys, store, env, clock } = await ring();
  await keys.maintain();
  const other = new KeyRing(store, env, clock, { alg: 'ES256', rotationIntervalMs: 30 * DAY, prepublishMs: 60 * MIN, maxTokenLifetimeMs: 11 * MIN });
  await other.load();
  assert.equal(other.signingKey().kid, keys.signingKey().kid);
  await store.close();
});
