/**
 * Retries after a subscription is removed: an event queued while its subscription was
 * being removed (enqueue read the subscriptions, the removal committed, then the
 * deliveries were written) leaves deliveries whose subscription no longer exists. The
 * worker must end them on its first look, not leave them pending to be claimed again
 * each time their lease lapses, for ever.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-orphan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a delivery whose subscription was removed while it was queued is ended (failed, webhook-removed) and never claimed again', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'orphan.db')}`, newMasterKey(), clock);
  const rx = await startReceiver();
  try {
    const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
    // enqueue read the subscription list before the removal, and writes after it
    const subs = await deps.hooks.listWebhookEvents();
    await deps.webhooks.remove(hook.id, 'admin');
    const now = clock.now();
    await deps.hooks.insertDeliveries(
      subs.map((w) => ({ id: 'dlv_orphan', webhookId: w.id, eventId: 'evt_1', eventType: 'app.disabled', payload: '{}', status: 'pending' as const, attempts: 0, nextAttemptAt: now, leaseUntil: 0, leaseOwner: null, lastStatus: null, lastError: null, createdAt: now, updatedAt: now, deliveredAt: null })),
    );
    const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { jitter: 0, leaseMs: 30_000, timeoutMs: 5000, allowPrivateTargets: true });
    assert.equal(await worker.runOnce(), 1);
    const d = await deps.store.getDelivery('dlv_orphan');
    assert.deepEqual([d?.status, d?.attempts, d?.lastError], ['failed', 1, 'webhook-removed']);
    clock.advance(3_600_000);
    assert.equal(await worker.runOnce(), 0, 'not claimed again once its lease lapses');
    assert.equal(rx.received.length, 0);
    await worker.stop();
  } finally {
    await rx.close();
    await deps.store.close();
  }
});
