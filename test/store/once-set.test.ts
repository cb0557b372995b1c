/** The fingerprint table behind the memory store's consumeOnce (src/store/memory/once-set.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnceSet } from '../../src/store/memory/once-set.js';

test('once-set: a key is accepted once while live, again after its expiry, and an expired slot is reused', () => {
  const s = new OnceSet();
  assert.equal(s.consume('a', 0, 100), true);
  assert.equal(s.consume('a', 99, 199), false, 'live until just before its expiry');
  assert.equal(s.consume('a', 100, 200), true, 'expired at its expiry instant');
  assert.equal(s.consume('a', 150, 250), false, 'the renewed key holds until 200');
  assert.equal(s.live(150), 1);
});

test('once-set: an expired key on the probe path does not hide a live key beyond it (a replay stays refused)', () => {
  const s = new OnceSet();
  // at load ~0.5 many probe paths run through several slots; half the keys expire at t=10
  for (let i = 0; i < 2_000; i++) assert.equal(s.consume(`k${i}`, 0, i % 2 === 0 ? 10 : 1000), true);
  for (let i = 1; i < 2_000; i += 2) assert.equal(s.consume(`k${i}`, 20, 1000), false, `k${i} is live behind expired slots`);
  for (let i = 0; i < 2_000; i += 2) assert.equal(s.consume(`k${i}`, 20, 1000), true, `k${i} expired`);
});

test('once-set: a forgotten key is a first use again, and keys behind it on its probe path stay used, also while a rebuild moves them', () => {
  const s = new OnceSet();
  for (let i = 0; i < 2_000; i++) s.consume(`k${i}`, 0, 1000);
  for (let i = 0; i < 2_000; i += 2) s.forget(`k${i}`);
  for (let i = 1; i < 2_000; i += 2) assert.equal(s.consume(`k${i}`, 1, 1000), false, `k${i} is still used`);
  for (let i = 0; i < 2_000; i += 2) assert.equal(s.consume(`k${i}`, 1, 1000), true, `k${i} was forgotten`);
  // push the table into a rebuild and forget keys while they move
  let n = 0;
  while (!s.rebuilding) s.consume(`fill${n++}`, 1, 1000);
  s.forget('k3');
  assert.equal(s.consume('k3', 2, 1000), true, 'forgotten in the old table');
  assert.equal(s.consume('k5', 2, 1000), false, 'still used while moving');
  s.forget('fill0');
  assert.equal(s.consume('fill0', 2, 1000), true);
  s.forget('never-seen');
  assert.equal(s.consume('never-seen', 2, 1000), true);
});

test('once-set: growing through many rebuilds keeps every live key and drops the expired ones', () => {
  const s = new OnceSet();
  // 50,000 keys: the even ones expire at t=10, the odd ones at t=1,000,000
  for (let i = 0; i < 50_000; i++) assert.equal(s.consume(`k${i}`, 0, i % 2 === 0 ? 10 : 1_000_000), true);
  assert.equal(s.live(0), 50_000);
  assert.ok(s.capacity >= 50_000 / 0.7, `capacity ${s.capacity} holds 50,000 keys below the 70% load`);
  for (let i = 0; i < 50_000; i++) assert.equal(s.consume(`k${i}`, 5, 1_000_000), false, `k${i} is still live at t=5`);
  // at t=20 the even ones are gone: they are accepted again, the odd ones are still replays
  for (let i = 0; i < 50_000; i += 2) assert.equal(s.consume(`k${i}`, 20, 30), true);
  for (let i = 1; i < 50_000; i += 2) assert.equal(s.consume(`k${i}`, 20, 1_000_000), false);
  // at t=40 only the odd ones remain; fresh keys push a rebuild that drops the rest
  const before = s.capacity;
  for (let i = 0; i < 200_000; i++) assert.equal(s.consume(`fresh${i}`, 40, 50), true);
  assert.equal(s.live(40), 25_000 + 200_000);
  assert.ok(s.capacity > before);
  for (let i = 1; i < 50_000; i += 2) assert.equal(s.consume(`k${i}`, 40, 1_000_000), false, `k${i} survived the rebuilds`);
});

test('once-set: keys that differ in one character or only in length never share a slot', () => {
  const s = new OnceSet();
  const keys = ['sig-nonce:k:abc', 'sig-nonce:k:abd', 'sig-nonce:k:ab', 'sig-nonce:k:abc ', 'sig-nonce:K:abc', 'sig-nonce:k:ábc', ''];
  for (const k of keys) assert.equal(s.consume(k, 0, 1000), true, JSON.stringify(k));
  for (const k of keys) assert.equal(s.consume(k, 1, 1000), false, JSON.stringify(k));
});

test('once-set: a churn of expiring keys at a steady rate keeps the table bounded by the live set', () => {
  const s = new OnceSet();
  // 1,000 keys per ms, each live for 50 ms: about 50,000 live at any time
  let now = 0;
  for (let ms = 0; ms < 400; ms++, now++) for (let i = 0; i < 1000; i++) s.consume(`n${ms}:${i}`, now, now + 50);
  const live = s.live(now);
  assert.ok(live <= 50_000 && live >= 49_000, `live ${live}`);
  assert.ok(s.capacity <= 262_144, `capacity ${s.capacity} stays within a few times the live set, not the 400,000 keys seen`);
});

test('once-set: bytes counts 24 per slot, of both tables while keys move', () => {
  const s = new OnceSet();
  assert.equal(s.bytes, 1024 * 24);
  let n = 0;
  while (!s.rebuilding) s.consume(`k${n++}`, 0, 1000);
  assert.equal(s.capacity, 2048, 'the first rebuild doubles the table');
  assert.equal(s.bytes, (2048 + 1024) * 24, 'the old table is held until its keys have moved');
  while (s.rebuilding) s.consume(`k${n++}`, 0, 1000);
  assert.equal(s.bytes, 2048 * 24);
});
