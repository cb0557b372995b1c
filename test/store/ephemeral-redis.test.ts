/**
 * The ephemeral store contract on the machine's Redis (two connections = two nodes,
 * a random prefix per test), plus prefixing and fail-closed behaviour.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { openEphemeralStore } from '../../src/store/index.js';
import { randomRedisPrefix, redisUrl, serviceDescribe } from '../support/services.js';
import { openRelay } from '../support/tcp-relay.js';
import { runEphemeralStoreSuite } from './ephemeral-contract.js';
import { rejectsWith } from './durable-contract.js';

async function deletePrefix(prefix: string): Promise<void> {
  const r = new Redis(redisUrl());
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

await serviceDescribe('redis', 'ephemeral store on Redis', () => {
  runEphemeralStoreSuite('redis', async () => {
    const prefix = randomRedisPrefix();
    const [a, b] = await Promise.all([openEphemeralStore(redisUrl(), { prefix }), openEphemeralStore(redisUrl(), { prefix })]);
    return { a, b, dispose: () => deletePrefix(prefix) };
  });

  test('redis: every key and channel is under the prefix, and counters carry their TTL', async () => {
    const prefix = randomRedisPrefix();
    const s = await openEphemeralStore(redisUrl(), { prefix });
    const raw = new Redis(redisUrl());
    const rawSub = new Redis(redisUrl());
    try {
      await s.consumeOnce('nonce:a', 60_000);
      await s.increment('rl:a', 30_000);
      await s.set('v:a', 'x', 60_000);
      assert.deepEqual((await raw.keys(`${prefix}*`)).sort(), [`${prefix}epoch`, `${prefix}nonce:a`, `${prefix}rl:a`, `${prefix}v:a`]);
      const ttl = await raw.pttl(`${prefix}rl:a`);
      assert.ok(ttl > 0 && ttl <= 30_000, `counter TTL ${ttl}`);
      await rawSub.subscribe(`${prefix}events`);
      const got = new Promise<[string, string]>((resolve) => rawSub.on('message', (c: string, m: string) => resolve([c, m])));
      await s.publish('events', 'hello');
      assert.deepEqual(await got, [`${prefix}events`, 'hello']);
    } finally {
      await s.close();
      raw.disconnect();
      rawSub.disconnect();
      await deletePrefix(prefix);
    }
  });

  test('redis: emptied under running nodes (a restart without persistence), a value made before is unknown on every node, one made after is first once', async () => {
    const prefix = randomRedisPrefix();
    const [a, b] = await Promise.all([openEphemeralStore(redisUrl(), { prefix }), openEphemeralStore(redisUrl(), { prefix })]);
    try {
      const before = Date.now();
      assert.equal(await a.consumeOnceMadeAt('nonce:r', 60_000, before), 'first');
      await new Promise((r) => setTimeout(r, 5));
      await deletePrefix(prefix);
      assert.equal(await b.consumeOnceMadeAt('nonce:r', 60_000, before), 'unknown');
      assert.equal(await a.consumeOnceMadeAt('nonce:r', 60_000, before), 'unknown');
      await new Promise((r) => setTimeout(r, 5));
      const after = Date.now();
      assert.equal(await a.consumeOnceMadeAt('nonce:r2', 60_000, after), 'first');
      assert.equal(await b.consumeOnceMadeAt('nonce:r2', 60_000, after), 'used');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await deletePrefix(prefix);
    }
  });

  test('redis: stores with different prefixes do not see each other (two deployments on one Redis)', async () => {
    const [p1, p2] = [randomRedisPrefix(), randomRedisPrefix()];
    const [s1, s2] = await Promise.all([openEphemeralStore(redisUrl(), { prefix: p1 }), openEphemeralStore(redisUrl(), { prefix: p2 })]);
    try {
      assert.equal(await s1.consumeOnce('nonce:x', 60_000), true);
      assert.equal(await s2.consumeOnce('nonce:x', 60_000), true);
    } finally {
      await Promise.all([s1.close(), s2.close()]);
      await Promise.all([deletePrefix(p1), deletePrefix(p2)]);
    }
  });

  test('redis: a network partition makes consumeOnce and increment reject with unavailable (fail closed, never true)', async () => {
    const prefix = randomRedisPrefix();
    const link = await openRelay(redisUrl());
    const s = await openEphemeralStore(link.url, { prefix });
    try {
      assert.equal(await s.consumeOnce('before', 60_000), true);
      link.cut();
      await rejectsWith(s.consumeOnce('after', 60_000), 'unavailable');
      await rejectsWith(s.increment('after', 60_000), 'unavailable');
      await rejectsWith(s.get('before'), 'unavailable');
      await rejectsWith(s.ping(), 'unavailable');
    } finally {
      await s.close();
      await link.close();
      await deletePrefix(prefix);
    }
  });

  test('redis: a lost subscription connection is reported, and reported live again only once its channels are subscribed again', async () => {
    const prefix = randomRedisPrefix();
    const link = await openRelay(redisUrl());
    const s = await openEphemeralStore(link.url, { prefix });
    const publisher = await openEphemeralStore(redisUrl(), { prefix });
    try {
      const got: string[] = [];
      await s.subscribe('events', (m) => got.push(m));
      const reports: boolean[] = [];
      let reportedNow = (): void => undefined;
      s.onSubscriptionsLive!((live) => (reports.push(live), reportedNow()));
      const next = () => new Promise<void>((resolve) => (reportedNow = resolve));
      let reported = next();
      link.cut();
      await reported;
      assert.deepEqual(reports, [false]);
      reported = next();
      link.restore();
      await reported;
      assert.deepEqual(reports, [false, true]);
      await publisher.publish('events', 'after');
      const start = Date.now();
      while (got.length === 0 && Date.now() - start < 1000) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, ['after']);
    } finally {
      await Promise.all([s.close(), publisher.close()]);
      await link.close();
      await deletePrefix(prefix);
    }
  });

  test('redis: an unreachable server rejects open with unavailable', async () => {
    await rejectsWith(openEphemeralStore('redis://127.0.0.1:1'), 'unavailable');
  });
});
