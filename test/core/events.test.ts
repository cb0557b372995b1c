/**
 * Cluster events (core/events.ts): applied here, then on the node's peers (the gateway
 * thread) before `emit` resolves, then published to the other nodes; a node ignores its
 * own published events; a failing peer or handler does not stop the others, but a
 * local handler's or a peer's failure fails the emit (the change is not in force
 * there), and a handler's failure fails `apply` (what the gateway thread reports to the
 * main thread).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { EventBus, type ClusterEvent } from '../../src/core/events.js';
import { silentLogger } from '../../src/core/logger.js';
import { MemoryEphemeralHub, MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';

const revoked: ClusterEvent = { type: 'app.tokens-revoked', clientId: 'app-1', before: 1 };

/** `n` event buses of different nodes on one shared in-memory pub/sub. */
function nodes(n: number): [EventBus, EventBus, ...EventBus[]] {
  const hub = new MemoryEphemeralHub();
  return Array.from({ length: n }, () => new EventBus(new MemoryEphemeralStore({ hub }), silentLogger)) as [EventBus, EventBus, ...EventBus[]];
}

test('emit resolves only after every peer applied the event; the local handlers ran first; other nodes hear it, the emitter does not hear itself', async () => {
  const [a, b] = nodes(2);
  const order: string[] = [];
  a.on(() => void order.push('a local'));
  b.on(() => void order.push('b remote'));
  a.addPeer(async () => {
    await sleep(50);
    order.push('a peer');
  });
  await a.start();
  await b.start();
  await a.emit(revoked);
  assert.deepEqual(order, ['a local', 'a peer'], 'the peer applied it before emit resolved');
  await sleep(20);
  assert.deepEqual(order, ['a local', 'a peer', 'b remote']);
  await a.stop();
  await b.stop();
});

for (const refusing of ['a peer', 'a local handler'] as const) {
  test(`${refusing} that cannot confirm the event fails the emit with its error, after the peers applied it and the other nodes were told`, async () => {
    const [a, b] = nodes(2);
    const heard: ClusterEvent[] = [];
    const peer: ClusterEvent[] = [];
    b.on((e) => void heard.push(e));
    const refused = new PortcullisError('change.not-in-force', 'the gateway could not confirm it');
    if (refusing === 'a peer') a.addPeer(() => Promise.reject(refused));
    else a.on(() => Promise.reject(refused));
    a.addPeer(async (e) => void peer.push(e));
    await b.start();
    await assert.rejects(a.emit(revoked), (e: unknown) => e === refused);
    assert.deepEqual(peer, [revoked]);
    await sleep(20);
    assert.deepEqual(heard, [revoked]);
    await b.stop();
  });
}

test('apply rejects with a handler’s failure once every handler has run: the event is not in force here', async () => {
  const a = new EventBus(new MemoryEphemeralStore({ hub: new MemoryEphemeralHub() }), silentLogger);
  const ran: string[] = [];
  const failure = new Error('store read failed');
  a.on(() => {
    ran.push('first');
    throw failure;
  });
  a.on(() => void ran.push('second'));
  await assert.rejects(a.apply(revoked), (e: unknown) => e === failure);
  assert.deepEqual(ran, ['first', 'second']);
});

test('apply runs the handlers without publishing', async () => {
  const [a, b] = nodes(2);
  const local: ClusterEvent[] = [];
  const remote: ClusterEvent[] = [];
  a.on((e) => void local.push(e));
  b.on((e) => void remote.push(e));
  await b.start();
  await a.apply(revoked);
  await sleep(20);
  assert.deepEqual(local, [revoked]);
  assert.deepEqual(remote, []);
  await b.stop();
});

test('emitAll emits every event of a change even when the first cannot be confirmed, then rejects with that failure', async () => {
  const [a, b] = nodes(2);
  const heard: ClusterEvent[] = [];
  b.on((e) => void heard.push(e));
  const refused = new PortcullisError('change.not-in-force', 'the gateway could not confirm it');
  a.addPeer((e) => (e.type === 'app.status' ? Promise.reject(refused) : Promise.resolve()));
  await b.start();
  const disabled: ClusterEvent[] = [{ type: 'app.status', clientId: 'app-1', disabled: true }, revoked, { type: 'app.changed', clientId: 'app-1' }];
  await assert.rejects(a.emitAll(disabled), (e: unknown) => e === refused);
  await sleep(20);
  assert.deepEqual(heard, disabled);
  await b.stop();
});

test('a peer bus (the gateway thread) applies its main bus’s events once, in order: their published copies are skipped, other nodes’ events are heard', async () => {
  const hub = new MemoryEphemeralHub();
  const bus = (opts?: { peerOf: string }) => new EventBus(new MemoryEphemeralStore({ hub }), silentLogger, opts);
  const main = bus();
  const other = bus();
  const thread = bus({ peerOf: main.node });
  const applied: ClusterEvent[] = [];
  thread.on((e) => void applied.push(e));
  main.addPeer((e) => thread.apply(e));
  await main.start();
  await thread.start();
  const enabled: ClusterEvent = { type: 'app.status', clientId: 'app-1', disabled: false };
  const disabled: ClusterEvent = { type: 'app.status', clientId: 'app-1', disabled: true };
  await main.emit(enabled);
  await main.emit(disabled);
  await sleep(20);
  // applied twice, the late copy of `enabled` would re-enable the app after it was disabled
  assert.deepEqual(applied, [enabled, disabled]);
  await other.emit(revoked);
  await sleep(20);
  assert.deepEqual(applied, [enabled, disabled, revoked]);
  await main.stop();
  await thread.stop();
});
