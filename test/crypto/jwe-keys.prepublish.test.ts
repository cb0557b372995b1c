/**
 * A scheduled rotation of the deployment's encryption keys on one node: the next key is
 * stored `prepublish` before its handover, every node decrypts with it once loaded, and
 * which key is current (published, encrypted to) is chosen by time, so a client that got
 * the JWKS from the rotating node is not refused `jwe.unknown-key` by another node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { decryptBody, encryptBody, EncryptionKeys, type EncryptionKeysOptions } from '../../src/crypto/jwe/index.js';
import { openDurableStore } from '../../src/store/index.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const ctx = { aud: 'r' };

async function twoNodes(opts: Partial<EncryptionKeysOptions> = {}) {
  const store = await openDurableStore('sqlite::memory:');
  const clock = new FrozenClock(Date.UTC(2026, 0, 1));
  const env = await Envelope.open(store, randomBytes(32));
  const o: EncryptionKeysOptions = { types: ['P-256'], rotationIntervalMs: 30 * DAY, decryptOverlapMs: DAY, prepublishMs: HOUR, ...opts };
  return { store, clock, a: new EncryptionKeys(store, env, clock, o), b: new EncryptionKeys(store, env, clock, o) };
}

const encryptTo = async (keys: EncryptionKeys) => {
  const cur = keys.current();
  return encryptBody('x', { key: cur.publicKey, kid: cur.kid, alg: cur.alg, context: ctx });
};
const opens = (jwe: string, keys: EncryptionKeys) => decryptBody(jwe, { getKey: keys.getKey, context: ctx }).then(() => 'ok', (e: { code?: string }) => e.code);

test('encryption keys prepublish: node A decrypts what a client encrypts to the key node B handed over to, with no reload in between', async () => {
  const { store, clock, a, b } = await twoNodes();
  await a.maintain();
  await b.load();
  const first = a.current().kid;
  clock.advance(30 * DAY - HOUR);
  assert.equal(await b.maintain(), true, 'B stores the next key');
  await a.load(); // A's reload (keys.changed or reconcile), an hour before the handover
  const next = b.list().find((k) => k.state === 'next');
  assert.ok(next, 'the next key is listed as next');
  assert.equal(next.activatesAt, Date.UTC(2026, 0, 31), 'it takes over a rotation interval after the current key');
  assert.equal(a.list().find((k) => k.kid === next.kid)?.state, 'next', 'A lists it as next too');
  for (const n of [a, b]) {
    assert.equal(n.current().kid, first, 'until the handover, the current key stays current');
    assert.deepEqual(n.jwks().keys.map((k) => k.kid), [first], 'and the JWKS offers only it to encrypt to');
  }
  clock.advance(HOUR - 1);
  assert.equal(a.current().kid, first);
  clock.advance(1);
  // the handover: chosen by time, on both nodes at once
  assert.equal(b.current().kid, next.kid);
  assert.equal(a.current().kid, next.kid);
  assert.deepEqual(a.jwks().keys.map((k) => k.kid), [next.kid]);
  await b.maintain(); // B retires the old key; A has not heard yet
  assert.equal(await opens(await encryptTo(b), a), 'ok', 'A opens a body encrypted to the key B published');
  await store.close();
});

test('encryption keys prepublish: a client that cached the old key is still served through the overlap after the handover, then refused', async () => {
  const { store, clock, a, b } = await twoNodes();
  await a.maintain();
  await b.load();
  const cached = await encryptTo(a);
  clock.advance(30 * DAY - HOUR);
  await a.maintain();
  await b.load();
  clock.advance(HOUR);
  await a.maintain();
  const old = a.list().find((k) => k.state === 'retired');
  assert.equal(old?.retiresAt, Date.UTC(2026, 0, 31), 'retired as of the handover, not of the maintenance run');
  assert.equal(old?.expiresAt, Date.UTC(2026, 0, 31) + DAY);
  await b.load();
  clock.advance(DAY - 1);
  assert.equal(await opens(cached, b), 'ok');
  clock.advance(1);
  assert.equal(await opens(cached, b), 'jwe.unknown-key');
  await store.close();
});

test('encryption keys prepublish: a maintenance run late for the schedule still stores the next key prepublish ahead', async () => {
  const { store, clock, a, b } = await twoNodes();
  await a.maintain();
  const first = a.current().kid;
  clock.advance(31 * DAY); // the node was down over the handover
  await a.maintain();
  assert.equal(a.current().kid, first, 'no key becomes current that another node may not have loaded');
  await b.load();
  const next = a.list().find((k) => k.state === 'next')!;
  assert.equal(next.activatesAt, clock.now() + HOUR);
  clock.advance(HOUR);
  assert.equal(b.current().kid, next.kid);
  assert.equal(await opens(await encryptTo(a), b), 'ok');
  await store.close();
});

test('encryption keys prepublish: two nodes storing a next key at once converge on one, before either is published', async () => {
  const { store, clock, a, b } = await twoNodes();
  await a.maintain();
  await b.load();
  clock.advance(30 * DAY - HOUR);
  await Promise.all([a.maintain(), b.maintain()]);
  await a.maintain();
  await b.maintain();
  await a.load();
  const nextA = a.list().filter((k) => k.state === 'next');
  const nextB = b.list().filter((k) => k.state === 'next');
  assert.equal(nextA.length, 1, 'one next key is left');
  assert.deepEqual(nextA, nextB, 'both nodes have the same next key and handover');
  clock.advance(HOUR);
  assert.equal(a.current().kid, b.current().kid);
  assert.equal(await opens(await encryptTo(a), b), 'ok');
  await store.close();
});

test('encryption keys prepublish: a manual rotate promotes the next key rather than adding another, and stores the following one', async () => {
  const { store, clock, a, b } = await twoNodes();
  await a.maintain();
  await b.load();
  const first = a.current().kid;
  clock.advance(30 * DAY - HOUR);
  await b.maintain();
  await a.load();
  const pending = a.list().find((k) => k.state === 'next')!.kid;
  clock.advance(10 * 60_000);
  const r = await b.rotate();
  assert.equal(r.activated, pending, 'the next key, which every node has, is promoted');
  assert.equal(r.retired, first);
  assert.notEqual(r.next, pending);
  assert.deepEqual(
    b.list().map((k) => [k.kid, k.state]),
    [[first, 'retired'], [pending, 'current'], [r.next, 'next']],
  );
  assert.equal(b.list().find((k) => k.kid === r.next)!.activatesAt, clock.now() + 30 * DAY, 'the following one takes over a rotation interval later');
  assert.equal(await opens(await encryptTo(b), a), 'ok', 'A, not reloaded since, opens what is encrypted to the promoted key');
  assert.equal(await b.maintain(), false, 'maintenance finds the schedule kept');
  await store.close();
});
