/**
 * A subscription holds at most `perWebhook` places (a quarter of `batch`), so a hung
 * receiver cannot take them all. But places were only refilled on the next tick: a fast,
 * healthy receiver with a backlog got `perWebhook` deliveries per interval (5 per second
 * by default), however quickly it answered. Now a delivery that succeeds refills the
 * places at once; a failed one waits for the tick, so a receiver that is down is not
 * sent its whole backlog in a burst of failing attempts.
 */
import { after, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver, until, type Receiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-refill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A worker with `queued` deliveries due to `receiver`; the interval is mocked, so it ticks only when the test says. */
async function backlogTo(receiver: Receiver, queued: number, name: string) {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, `${name}.db`)}`, newMasterKey(), clock);
  const hook = await deps.webhooks.subscribe({ url: receiver.url, events: ['app.disabled'] }, 'admin');
  for (let i = 0; i < queued; i++) {
    await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: `app-${i}` });
    clock.advance(1);
  }
  await deps.webhooks.flush();
  mock.timers.enable({ apis: ['setInterval'] });
  const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { intervalMs: 1000, batch: 20, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, allowPrivateTargets: true });
  worker.start();
  return {
    worker,
    pending: async () => (await deps.hooks.listDeliveries(hook.id, 100)).filter((d) => d.status === 'pending').length,
    close: async () => {
      await worker.stop();
      mock.timers.reset();
      await receiver.close();
      await deps.store.close();
    },
  };
}

/** A receiver that answers 200 after `delayMs`, counting the requests it holds at once. */
async function startCountingReceiver(delayMs: number): Promise<Receiver & { maxAtOnce: number }> {
  const state = { received: [] as Receiver['received'], atOnce: 0, maxAtOnce: 0 };
  const server = createServer((req, res) => {
    state.maxAtOnce = Math.max(state.maxAtOnce, ++state.atOnce);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        state.atOnce--;
        state.received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.alloc(0), at: Date.now() });
        res.end('ok');
      }, delayMs),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`,
    received: state.received,
    script: [],
    asRequest: () => {
      throw new Error('not used');
    },
    get maxAtOnce() {
      return state.maxAtOnce;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

test('a fast receiver with a backlog of 30 gets all of them after one tick, at most perWebhook (5) at a time, not 5 per tick', async () => {
  const receiver = await startCountingReceiver(20);
  const b = await backlogTo(receiver, 30, 'fast');
  try {
    mock.timers.tick(1000); // the one and only tick
    assert.ok(await until(() => receiver.received.length === 30, 10_000), `one tick delivered ${receiver.received.length} of 30`);
    // the receiver counts a delivery as it answers; the worker records it once the answer is back
    let pending = await b.pending();
    for (const end = Date.now() + 5000; pending !== 0 && Date.now() < end; pending = await b.pending()) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pending, 0);
    assert.ok(receiver.maxAtOnce >= 1 && receiver.maxAtOnce <= 5, `the receiver held ${receiver.maxAtOnce} deliveries at once`);
  } finally {
    await b.close();
  }
});

test('a receiver that fails is not refilled between ticks: one tick makes exactly perWebhook (5) attempts', async () => {
  const receiver = await startReceiver('/hooks/in', Array(30).fill(503));
  const b = await backlogTo(receiver, 30, 'failing');
  try {
    mock.timers.tick(1000);
    assert.ok(await until(() => receiver.received.length >= 5, 10_000), `got ${receiver.received.length}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.received.length, 5, 'no attempt beyond the tick\'s five');
  } finally {
    await b.close();
  }
});
