/**
 * The contract every ephemeral store adapter passes (memory, Redis). Two nodes share
 * state in each test: the race-safety promises hold across nodes, not just inside one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EphemeralStore } from '../../src/core/ephemeral.js';
import { rejectsWith } from './durable-contract.js';

export interface EphemeralHarness {
  /** Two store instances ("nodes") over the same shared state. */
  a: EphemeralStore;
  b: EphemeralStore;
  /** Removes what the test left behind; the suite closes a and b first. */
  dispose?(): Promise<void>;
}

/** Resolves with the messages `store` delivers on `channel`; `next()` waits for the next one. */
async function collect(store: EphemeralStore, channel: string): Promise<{ got: string[]; next: () => Promise<string>; off: () => Promise<void> }> {
  const got: string[] = [];
  let waiters: ((m: string) => void)[] = [];
  const off = await store.subscribe(channel, (m) => {
    got.push(m);
    const w = waiters;
    waiters = [];
    w.forEach((f) => f(m));
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message on ${channel} within 5s`)), 5000);
      waiters.push((m) => (clearTimeout(timer), resolve(m)));
    });
  return { got, next, off };
}

/**
 * Registers the suite. `makeStore` gives two fresh nodes over an empty keyspace per test.
 *
 * @example
 * runEphemeralStoreSuite('memory', async () => { const hub = new MemoryEphemeralHub(); return { a: new MemoryEphemeralStore({ hub }), b: new MemoryEphemeralStore({ hub }) }; });
 */
export function runEphemeralStoreSuite(name: string, makeStore: () => Promise<EphemeralHarness>): void {
  const t = (title: string, fn: (a: EphemeralStore, b: EphemeralStore) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const h = await makeStore();
      try {
        await fn(h.a, h.b);
      } finally {
        await Promise.all([h.a.close(), h.b.close()]);
        await h.dispose?.();
      }
    });
  };

  t('consumeOnce: replay of a consumed key loses on the same node and on another node', async (a, b) => {
    assert.equal(await a.consumeOnce('nonce:1', 60_000), true);
    assert.equal(await a.consumeOnce('nonce:1', 60_000), false);
    assert.equal(await b.consumeOnce('nonce:1', 60_000), false);
    assert.equal(await b.consumeOnce('nonce:2', 60_000), true);
  });

  t('consumeOnce: delete frees a consumed key on every node, and only that key', async (a, b) => {
    assert.equal(await a.consumeOnce('nonce:d1', 60_000), true);
    assert.equal(await a.consumeOnce('nonce:d2', 60_000), true);
    await b.delete('nonce:d1');
    assert.equal(await a.consumeOnce('nonce:d1', 60_000), true);
    assert.equal(await b.consumeOnce('nonce:d1', 60_000), false);
    assert.equal(await b.consumeOnce('nonce:d2', 60_000), false);
  });

  t('consumeOnce race: 50 concurrent callers across two nodes, exactly one wins', async (a, b) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consumeOnce('code:race', 60_000)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  t('consumeOnce: the key can be consumed again once its TTL has passed', async (a, b) => {
    assert.equal(await a.consumeOnce('nonce:ttl', 50), true);
    assert.equal(await b.consumeOnce('nonce:ttl', 50), false);
    await sleep(150);
    assert.equal(await b.consumeOnce('nonce:ttl', 50), true);
  });

  t('consumeOnceMadeAt: made since the store began, first once then used on every node; made before it, or never placed in time, unknown', async (a, b) => {
    const made = Date.now();
    assert.equal(await a.consumeOnceMadeAt('nonce:m1', 60_000, made), 'first');
    assert.equal(await b.consumeOnceMadeAt('nonce:m1', 60_000, made), 'used');
    assert.equal(await a.consumeOnceMadeAt('nonce:m1', 60_000, made), 'used');
    assert.equal(await a.consumeOnce('nonce:m1', 60_000), false, 'the same key as consumeOnce');
    assert.equal(await b.consumeOnceMadeAt('nonce:m2', 60_000, made - 3_600_000), 'unknown');
    assert.equal(await a.consumeOnceMadeAt('nonce:m2', 60_000, made - 3_600_000), 'unknown', 'an unknown value is not consumed either');
    assert.equal(await a.consumeOnceMadeAt('nonce:m3', 60_000, -Infinity), 'unknown');
    assert.equal(await a.consumeOnceMadeAt('nonce:m3', 60_000, Number.NaN), 'unknown');
  });

  t('consumeOnceMadeAt race: 50 concurrent callers across two nodes, exactly one first', async (a, b) => {
    const made = Date.now();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consumeOnceMadeAt('nonce:race', 60_000, made)));
    assert.equal(results.filter((r) => r === 'first').length, 1);
    assert.equal(results.filter((r) => r === 'used').length, 49);
  });

  t('advance: moves a value forward only, on every node, and reads back with get', async (a, b) => {
    assert.equal(await a.advance('step:u1', 10, 60_000), true);
    assert.equal(await b.advance('step:u1', 10, 60_000), false, 'the same value is not an advance');
    assert.equal(await b.advance('step:u1', 9, 60_000), false, 'an older value is not an advance');
    assert.equal(await a.get('step:u1'), '10');
    assert.equal(await b.advance('step:u1', 12, 60_000), true);
    assert.equal(await a.advance('step:u1', 11, 60_000), false);
    assert.equal(await a.get('step:u1'), '12');
    assert.equal(await a.advance('step:u2', 1, 60_000), true);
  });

  t('advance with `to`: compares `next` and stores `to`, so a later `next` up to `to` no longer advances', async (a, b) => {
    assert.equal(await a.advance('step:to', 5, 60_000, 8), true);
    assert.equal(await a.get('step:to'), '8');
    assert.equal(await b.advance('step:to', 8, 60_000), false);
    assert.equal(await b.advance('step:to', 9, 60_000, 9), true);
    assert.equal(await a.get('step:to'), '9');
  });

  t('advance race: 50 concurrent callers to one value across two nodes, exactly one wins', async (a, b) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).advance('step:race', 7, 60_000)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  t('advance race: concurrent callers to different values end on the largest, and each winner moved it forward', async (a, b) => {
    const targets = Array.from({ length: 40 }, (_, i) => (i * 17) % 40);
    const results = await Promise.all(targets.map((to, i) => (i % 2 ? a : b).advance('step:mixed', to, 60_000)));
    assert.equal(await a.get('step:mixed'), '39');
    assert.equal(results[targets.indexOf(39)], true);
    assert.ok(results.filter(Boolean).length >= 1);
  });

  t('advance: once the value has expired any value advances it again', async (a, b) => {
    assert.equal(await a.advance('step:ttl', 5, 50), true);
    assert.equal(await b.advance('step:ttl', 4, 50), false);
    await sleep(150);
    assert.equal(await b.advance('step:ttl', 4, 50), true);
  });

  t('advance over a value that is not an integer fails closed with internal and leaves it', async (a, b) => {
    await a.set('step:text', 'not-a-number', 60_000);
    await rejectsWith(b.advance('step:text', 1, 60_000), 'internal');
    assert.equal(await a.get('step:text'), 'not-a-number');
  });

  t('increment: counts from `by`, adds `by`, and reads back with get', async (a, b) => {
    assert.equal(await a.increment('rl:1', 60_000), 1);
    assert.equal(await b.increment('rl:1', 60_000), 2);
    assert.equal(await a.increment('rl:1', 60_000, 5), 7);
    assert.equal(await a.increment('rl:1', 60_000, -2), 5);
    assert.equal(await b.get('rl:1'), '5');
    assert.equal(await b.increment('rl:other', 60_000, 3), 3);
  });

  t('increment race: 50 concurrent increments across two nodes return 1..50 exactly once each', async (a, b) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).increment('rl:race', 60_000)));
    assert.deepEqual([...results].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(await a.get('rl:race'), '50');
  });

  t('increment window bypass: later increments do not extend the expiry set at creation', async (a, b) => {
    // A fixed window: steady traffic every ~40ms must not keep a 250ms window open forever.
    const seen: number[] = [];
    const end = Date.now() + 900;
    while (Date.now() < end) {
      seen.push(await (seen.length % 2 ? a : b).increment('rl:window', 250));
      await sleep(40);
    }
    assert.equal(seen[0], 1);
    assert.ok(seen.slice(1).includes(1), `the counter restarted at 1 after its window: ${seen.join(',')}`);
  });

  t('takeInWindow: at most `limit` events per window across nodes, then refused with the time until the oldest leaves', async (a, b) => {
    const taken = [await a.takeInWindow('sw:1', 60_000, 3), await b.takeInWindow('sw:1', 60_000, 3), await a.takeInWindow('sw:1', 60_000, 3)];
    assert.deepEqual(
      taken.map((r) => r.taken && r.count),
      [1, 2, 3],
    );
    assert.equal(new Set(taken.map((r) => r.taken && r.id)).size, 3, 'each event has its own id');
    for (const s of [a, b]) {
      const refused = await s.takeInWindow('sw:1', 60_000, 3);
      assert.equal(refused.taken, false);
      assert.ok(!refused.taken && refused.retryAfterMs > 55_000 && refused.retryAfterMs <= 60_000, JSON.stringify(refused));
    }
    // another key has a window of its own
    assert.equal((await b.takeInWindow('sw:2', 60_000, 3)).taken, true);
  });

  t('takeInWindow race: 50 concurrent callers across two nodes with limit 10, exactly 10 taken', async (a, b) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).takeInWindow('sw:race', 60_000, 10)));
    assert.equal(results.filter((r) => r.taken).length, 10);
    assert.deepEqual(
      results.flatMap((r) => (r.taken ? [r.count] : [])).sort((x, y) => x - y),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  });

  t('takeInWindow slides: each event leaves the window `windowMs` after it was taken, not at a fixed boundary', async (a, b) => {
    const start = Date.now();
    assert.equal((await a.takeInWindow('sw:slide', 1000, 2)).taken, true);
    await sleep(500);
    assert.equal((await b.takeInWindow('sw:slide', 1000, 2)).taken, true);
    assert.equal((await a.takeInWindow('sw:slide', 1000, 2)).taken, false);
    await sleep(1200 - (Date.now() - start));
    // the first has left, the second (taken at ~500 ms) has not
    assert.equal((await b.takeInWindow('sw:slide', 1000, 2)).taken, true);
    const refused = await a.takeInWindow('sw:slide', 1000, 2);
    assert.ok(!refused.taken && refused.retryAfterMs > 0 && refused.retryAfterMs <= 400, JSON.stringify(refused));
  });

  t('releaseInWindow gives an event back on every node; an unknown id or key is a no-op; delete clears the window', async (a, b) => {
    const first = await a.takeInWindow('sw:back', 60_000, 2);
    assert.equal((await a.takeInWindow('sw:back', 60_000, 2)).taken, true);
    assert.equal((await b.takeInWindow('sw:back', 60_000, 2)).taken, false);
    assert.ok(first.taken);
    await b.releaseInWindow('sw:back', first.id);
    await b.releaseInWindow('sw:back', first.id);
    await b.releaseInWindow('sw:back', 'no-such-id');
    await b.releaseInWindow('sw:none', 'no-such-id');
    const again = await b.takeInWindow('sw:back', 60_000, 2);
    assert.ok(again.taken && again.count === 2, JSON.stringify(again));
    assert.equal((await a.takeInWindow('sw:back', 60_000, 2)).taken, false);
    await a.delete('sw:back');
    assert.ok((await b.takeInWindow('sw:back', 60_000, 2)).taken);
  });

  t('takeInWindow: an invalid window or limit is refused with internal, never stored', async (a) => {
    for (const w of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) await rejectsWith(a.takeInWindow('sw:bad', w, 1), 'internal');
    for (const limit of [0, -1, 1.5, Number.NaN]) await rejectsWith(a.takeInWindow('sw:bad', 1000, limit), 'internal');
    assert.equal(await a.get('sw:bad'), undefined);
    await a.set('sw:text', 'x', 60_000);
    await rejectsWith(a.takeInWindow('sw:text', 1000, 1), 'internal');
  });

  t('set/get/delete: values are shared, overwritten, deleted and expire', async (a, b) => {
    assert.equal(await a.get('v:1'), undefined);
    await a.set('v:1', 'one', 60_000);
    assert.equal(await b.get('v:1'), 'one');
    await b.set('v:1', 'uno', 60_000);
    assert.equal(await a.get('v:1'), 'uno');
    await a.delete('v:1');
    assert.equal(await b.get('v:1'), undefined);
    await b.delete('v:never-set');
    await a.set('v:short', 'x', 50);
    await sleep(150);
    assert.equal(await a.get('v:short'), undefined);
  });

  t('pub/sub: a message reaches every subscriber on every node, and stops after unsubscribe', async (a, b) => {
    const onB = await collect(b, 'revocations');
    const onA = await collect(a, 'revocations');
    const [gotB, gotA] = [onB.next(), onA.next()];
    await a.publish('revocations', 'jti:1');
    assert.deepEqual(await Promise.all([gotB, gotA]), ['jti:1', 'jti:1']);

    await onB.off();
    const barrier = await collect(b, 'barrier');
    const [nextA, nextBarrier] = [onA.next(), barrier.next()];
    await a.publish('revocations', 'jti:2');
    await a.publish('barrier', 'x');
    assert.equal(await nextA, 'jti:2');
    await nextBarrier;
    assert.deepEqual(onB.got, ['jti:1']);
    await onA.off();
    await barrier.off();
  });

  t('pub/sub: channels are isolated and a throwing subscriber does not stop the others', async (a, b) => {
    await b.subscribe('keys', () => {
      throw new Error('subscriber bug');
    });
    const keys = await collect(b, 'keys');
    const routes = await collect(b, 'routes');
    const nextRoutes = routes.next();
    await a.publish('keys', 'k1');
    await a.publish('routes', 'r1');
    assert.equal(await nextRoutes, 'r1');
    assert.deepEqual(keys.got, ['k1']);
    assert.deepEqual(routes.got, ['r1']);
  });

  t('invalid TTL or step is refused with internal, never stored', async (a) => {
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await rejectsWith(a.consumeOnce('bad-ttl', ttl), 'internal');
      await rejectsWith(a.increment('bad-ttl', ttl), 'internal');
      await rejectsWith(a.set('bad-ttl', 'x', ttl), 'internal');
    }
    await rejectsWith(a.increment('bad-step', 1000, 1.5), 'internal');
    for (const next of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) await rejectsWith(a.advance('bad-step', next, 1000), 'internal');
    await rejectsWith(a.advance('bad-step', 1, 1000, 1.5), 'internal');
    await rejectsWith(a.advance('bad-step', 5, 1000, 4), 'internal');
    await rejectsWith(a.advance('bad-ttl', 1, 0), 'internal');
    assert.equal(await a.get('bad-ttl'), undefined);
    assert.equal(await a.get('bad-step'), undefined);
  });

  t('ping answers; a closed node rejects with unavailable (fail closed, never true)', async (a, b) => {
    await a.ping();
    await a.close();
    await rejectsWith(a.consumeOnce('after-close', 1000), 'unavailable');
    await rejectsWith(a.increment('after-close', 1000), 'unavailable');
    await rejectsWith(a.advance('after-close', 1, 1000), 'unavailable');
    await rejectsWith(a.takeInWindow('after-close', 1000, 1), 'unavailable');
    await rejectsWith(a.ping(), 'unavailable');
    assert.equal(await b.consumeOnce('after-close', 1000), true);
  });
}
