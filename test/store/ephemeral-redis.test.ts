/**
 * The ephemeral store contract on the machine's Redis (two connections = two nodes,
 * a random prefix per test), plus prefixing and fail-closed behaviour.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { openEphemeralStore } from '../../src/store/index.js';
import { randomRedisPrefix, redisUrl, serviceDescribe } from '../support/services.js';
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

/** A TCP relay to Redis that the test can cut, as a network partition would. */
async function relay(): Promise<{ url: string; cut: () => Promise<void> }> {
  const target = new URL(redisUrl());
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(redisUrl());
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
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
    const link = await relay();
    const s = await openEphemeralStore(link.url, { prefix });
    try {
      assert.equal(await s.consumeOnce('before', 60_000), true);
      await link.cut();
      await rejectsWith(s.consumeOnce('after', 60_000), 'unavailable');
      await rejectsWith(s.increment('after', 60_000), 'unavailable');
      await rejectsWith(s.get('before'), 'unavailable');
      await rejectsWith(s.ping(), 'unavailable');
    } finally {
      await s.close();
      await deletePrefix(prefix);
    }
  });

  test('redis: an unreachable server rejects open with unavailable', async () => {
    await rejectsWith(openEphemeralStore('redis://127.0.0.1:1'), 'unavailable');
  });
});
