/**
 * Cluster events (core/events.ts): applied here, then on the node's peers (the gateway
 * thread) before `emit` resolves, then published to the other nodes; a node ignores its
 * own published events; a failing peer or handler does not stop the others.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { EventBus, type ClusterEvent } from '../../src/core/events.js';
import { silentLogger } from '../../src/core/logger.js';
import { MemoryEphemeralHub, MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';

const revoked: ClusterEvent = { type: 'app.tokens-revoked', clientId: 'app-1', before: 1 };

test('emit resolves only after every peer applied the event; the local handlers ran first; other nodes hear it, the emitter does not hear itself', async () => {
  const hub = new MemoryEphemeralHub();
  const a = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
  const b = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
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

test('a peer that fails does not fail the emit or keep the event from the other nodes', async () => {
  const hub = new MemoryEphemeralHub();
  const a = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
  const b = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
  const heard: ClusterEvent[] = [];
  b.on((e) => void heard.push(e));
  a.addPeer(() => Promise.reject(new Error('thread gone')));
  await b.start();
  await a.emit(revoked);
  await sleep(20);
  assert.deepEqual(heard, [revoked]);
  await b.stop();
});

test('apply runs the handlers without publishing', async () => {
  const hub = new MemoryEphemeralHub();
  const a = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
  const b = new EventBus(new MemoryEphemeralStore({ hub }), silentLogger);
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
