/**
 * One slow subscription must not take every place of the worker: during an event storm
 * to a receiver that answers only at the timeout, its many queued deliveries, due first,
 * used to fill all `batch` places, and deliveries to every other subscriber waited
 * behind its timeouts. Each subscription now holds at most `perWebhook` places.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startHungReceiver, startReceiver, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-fair-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a storm of deliveries to a receiver that never answers does not take the places of a healthy subscriber queued after it', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'fair.db')}`, newMasterKey(), clock);
  const healthy = await startReceiver();
  const slow = await startHungReceiver();
  const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { intervalMs: 25, batch: 20, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, allowPrivateTargets: true });
  try {
    await deps.webhooks.subscribe({ url: slow.url, events: ['app.disabled'] }, 'admin');
    await deps.webhooks.subscribe({ url: healthy.url, events: ['app.tokens-revoked'] }, 'admin');
    for (let i = 0; i < 40; i++) {
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: `app-${i}` });
      clock.advance(1);
    }
    for (let i = 0; i < 3; i++) {
      await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: `app-${i}` });
      clock.advance(1);
    }
    await deps.webhooks.flush();
    const t0 = Date.now();
    worker.start();
    assert.ok(await until(() => healthy.received.length === 3, 1500), `the healthy receiver got ${healthy.received.length} of 3 after ${Date.now() - t0} ms, behind the slow one's timeouts`);
    assert.ok(slow.hung >= 1 && slow.hung <= 5, `the slow receiver holds at most its share of the 20 places (${slow.hung} attempts under way)`);
  } finally {
    const stopped = worker.stop();
    await slow.close();
    await stopped;
    await healthy.close();
    await deps.store.close();
  }
});
