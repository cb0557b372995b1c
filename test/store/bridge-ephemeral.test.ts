/**
 * The ephemeral store across a MessagePort (store/bridge/ephemeral.ts), as the gateway
 * thread uses the main thread's memory store: same answers as the store itself,
 * consume-once exactly once across both sides, pub/sub both ways, error codes kept,
 * and a closed side fails closed.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { PortcullisError } from '../../src/core/errors.js';
import type { EphemeralStore } from '../../src/core/ephemeral.js';
import { BridgedEphemeralStore, serveEphemeral } from '../../src/store/bridge/ephemeral.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { runEphemeralStoreSuite } from './ephemeral-contract.js';

function pair(): { main: MemoryEphemeralStore; remote: BridgedEphemeralStore; stop: () => Promise<void> } {
  const main = new MemoryEphemeralStore();
  const { port1, port2 } = new MessageChannel();
  const stop = serveEphemeral(main, port1);
  return { main, remote: new BridgedEphemeralStore(port2), stop };
}

// the whole store contract, with nodes a and b two threads bridged to one memory store
runEphemeralStoreSuite('bridged memory', async () => {
  const main = new MemoryEphemeralStore();
  const ends = [new MessageChannel(), new MessageChannel()].map(({ port1, port2 }) => ({ stop: serveEphemeral(main, port1), store: new BridgedEphemeralStore(port2) }));
  return {
    a: ends[0]!.store,
    b: ends[1]!.store,
    dispose: async () => {
      await Promise.all(ends.map((e) => e.stop()));
      await main.close();
    },
  };
});

describe('bridged ephemeral store', () => {
  it('reads and writes the other side’s store: set/get/delete, counters, consume-once', async () => {
    const { main, remote, stop } = pair();
    await remote.set('a', 'one', 60_000);
    assert.equal(await main.get('a'), 'one');
    await main.set('b', 'two', 60_000);
    assert.equal(await remote.get('b'), 'two');
    assert.equal(await remote.get('missing'), undefined);
    await remote.delete('b');
    assert.equal(await main.get('b'), undefined);
    assert.equal(await remote.increment('n', 60_000), 1);
    assert.equal(await main.increment('n', 60_000, 5), 6);
    assert.equal(await remote.increment('n', 60_000, 2), 8);
    assert.equal(await remote.consumeOnce('nonce', 60_000), true);
    assert.equal(await main.consumeOnce('nonce', 60_000), false, 'used on the other side');
    assert.equal(await remote.consumeOnce('nonce', 60_000), false);
    await remote.ping();
    await remote.close();
    await stop();
    await main.close();
  });

  it('100 concurrent consume-once calls for one key from both sides: exactly one wins', async () => {
    const { main, remote, stop } = pair();
    const calls = Array.from({ length: 100 }, (_, i) => ((i % 2 ? main : remote) as EphemeralStore).consumeOnce('k', 60_000));
    const won = (await Promise.all(calls)).filter(Boolean).length;
    assert.equal(won, 1);
    await remote.close();
    await stop();
    await main.close();
  });

  it('pub/sub crosses both ways; an unsubscribed listener hears nothing more', async () => {
    const { main, remote, stop } = pair();
    const heardRemote: string[] = [];
    const heardMain: string[] = [];
    const off = await remote.subscribe('events', (m) => heardRemote.push(m));
    await main.subscribe('events', (m) => heardMain.push(m));
    await main.publish('events', 'from-main');
    await remote.publish('events', 'from-remote');
    await sleep(20);
    assert.deepEqual(heardRemote.sort(), ['from-main', 'from-remote']);
    assert.deepEqual(heardMain.sort(), ['from-main', 'from-remote']);
    await off();
    await main.publish('events', 'later');
    await sleep(20);
    assert.equal(heardRemote.includes('later'), false);
    assert.equal(heardMain.includes('later'), true);
    await remote.close();
    await stop();
    await main.close();
  });

  it('an error keeps its code; once the serving side is gone every call fails closed with unavailable', async () => {
    const { main, remote, stop } = pair();
    await main.set('text', 'not-a-number', 60_000);
    await assert.rejects(remote.increment('text', 60_000), (e: unknown) => e instanceof PortcullisError && e.code === 'internal');
    await main.close();
    await assert.rejects(remote.get('x'), (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable');
    await stop();
    await sleep(10);
    await assert.rejects(remote.consumeOnce('x', 1000), (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable');
  });

  it('an error code that is not one of ours, an inherited property name (constructor, toString, __proto__) too, arrives as internal', async () => {
    const { port1, port2 } = new MessageChannel();
    const remote = new BridgedEphemeralStore(port2);
    // the serving side answers each call with the code under test
    const codes = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'no.such-code'];
    try {
      port1.on('message', (r: { id: number }) => port1.postMessage({ id: r.id, error: { code: codes[r.id - 1], message: 'x' } }));
      for (const code of codes) {
        await assert.rejects(remote.get('k'), (e: unknown) => e instanceof PortcullisError && e.code === 'internal' && e.status === 500, code);
      }
      await assert.rejects(
        (async () => {
          codes.push('unavailable');
          await remote.get('k');
        })(),
        (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable',
      );
    } finally {
      port1.close();
    }
  });
});
