/** The ephemeral store contract on the in-process adapter, plus exact expiry on a frozen clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { openEphemeralStore } from '../../src/store/index.js';
import { MemoryEphemeralHub, MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { runEphemeralStoreSuite } from './ephemeral-contract.js';
import { rejectsWith } from './durable-contract.js';

runEphemeralStoreSuite('memory', async () => {
  const hub = new MemoryEphemeralHub();
  return { a: new MemoryEphemeralStore({ hub }), b: new MemoryEphemeralStore({ hub }) };
});

test('memory: consumeOnce replay is refused until exactly ttl has passed (frozen clock)', async () => {
  const clock = new FrozenClock(1_000_000);
  const s = new MemoryEphemeralStore({ clock });
  try {
    assert.equal(await s.consumeOnce('n', 300), true);
    clock.advance(299);
    assert.equal(await s.consumeOnce('n', 300), false);
    clock.advance(1);
    assert.equal(await s.consumeOnce('n', 300), true);
  } finally {
    await s.close();
  }
});

test('memory: increment window expires ttl after creation, not after the last increment (frozen clock)', async () => {
  const clock = new FrozenClock(0);
  const s = new MemoryEphemeralStore({ clock });
  try {
    assert.equal(await s.increment('w', 1000), 1);
    clock.set(999);
    assert.equal(await s.increment('w', 1000), 2);
    clock.set(1000);
    assert.equal(await s.get('w'), undefined);
    assert.equal(await s.increment('w', 1000), 1);
  } finally {
    await s.close();
  }
});

test('memory: sweep drops expired entries so counters and values do not accumulate', async () => {
  const clock = new FrozenClock(0);
  const hub = new MemoryEphemeralHub();
  const s = new MemoryEphemeralStore({ clock, hub });
  try {
    for (let i = 0; i < 100; i++) await s.set(`n${i}`, 'v', 10 + i);
    // Entry i expires at 10 + i: at t=60, entries 0..50 are gone.
    clock.set(60);
    assert.equal(s.sweep(), 51);
    assert.equal(hub.entries.size, 49);
  } finally {
    await s.close();
  }
});

test('memory: the background sweep works in slices, leaving the event loop free between them, and drops the same entries', async () => {
  const clock = new FrozenClock(0);
  const hub = new MemoryEphemeralHub();
  const s = new MemoryEphemeralStore({ clock, hub });
  try {
    // 25,000 entries (three slices); the even ones expire at t=10, the odd ones at t=1000
    for (let i = 0; i < 25_000; i++) await s.set(`n${i}`, 'v', i % 2 === 0 ? 10 : 1000);
    clock.set(60);
    let ticks = 0;
    const counter = setInterval(() => ticks++, 0);
    const dropped = await s.sweepInSlices();
    clearInterval(counter);
    assert.equal(dropped, 12_500);
    assert.equal(hub.entries.size, 12_500);
    assert.ok(ticks >= 1, 'timers ran while the sweep was under way');
    // a sweep asked for while one is under way does not start a second walk
    await s.set('late', 'v', 5);
    clock.set(100);
    assert.deepEqual(await Promise.all([s.sweepInSlices(), s.sweepInSlices()]), [1, 0]);
    assert.equal(hub.entries.size, 12_500);
  } finally {
    await s.close();
  }
});

test('memory: consumeOnce keeps its markers out of the Map (a fingerprint table), and get does not see them', async () => {
  const clock = new FrozenClock(1_000);
  const hub = new MemoryEphemeralHub();
  const s = new MemoryEphemeralStore({ clock, hub });
  try {
    for (let i = 0; i < 5_000; i++) assert.equal(await s.consumeOnce(`sig-nonce:k1:${i}`, 60_000), true);
    assert.equal(hub.entries.size, 0);
    assert.equal(hub.once.live(clock.now()), 5_000);
    assert.equal(await s.get('sig-nonce:k1:7'), undefined);
    for (let i = 0; i < 5_000; i += 97) assert.equal(await s.consumeOnce(`sig-nonce:k1:${i}`, 60_000), false, `key ${i} is a replay`);
  } finally {
    await s.close();
  }
});

test('memory: a key that is not well-formed UTF-16 is kept exactly (lone surrogates would share a fingerprint)', async () => {
  const hub = new MemoryEphemeralHub();
  const s = new MemoryEphemeralStore({ hub });
  try {
    // both encode to UTF-8 as "n:" + U+FFFD
    assert.equal(await s.consumeOnce('n:\uD800', 60_000), true);
    assert.equal(await s.consumeOnce('n:\uD801', 60_000), true);
    assert.equal(await s.consumeOnce('n:\uD800', 60_000), false);
    assert.equal(hub.entries.size, 2);
  } finally {
    await s.close();
  }
});

test('memory: openEphemeralStore("memory") gives each call its own state', async () => {
  const [a, b] = await Promise.all([openEphemeralStore('memory'), openEphemeralStore('memory')]);
  try {
    assert.equal(await a.consumeOnce('k', 1000), true);
    assert.equal(await b.consumeOnce('k', 1000), true);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('memory: a malformed ephemeral URL is config.invalid', async () => {
  await rejectsWith(openEphemeralStore('memcached://x'), 'config.invalid');
});
