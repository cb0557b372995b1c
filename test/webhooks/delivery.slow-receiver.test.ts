/**
 * A slow receiver must not hold back the others: a subscriber that accepts the
 * connection and never answers keeps its attempt until the per-attempt timeout, but
 * deliveries to other subscribers queued meanwhile go out on the next tick, not after
 * that timeout.
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

const dir = mkdtempSync(join(tmpdir(), 'portcullis-slow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a receiver that never answers does not delay the deliveries to other subscribers until its timeout', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'slow.db')}`, newMasterKey(), clock);
  const fast = await startReceiver();
  const slow = await startHungReceiver();
  const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { intervalMs: 25, jitter: 0, timeoutMs: 4000, leaseMs: 30_000, allowPrivateTargets: true });
  try {
    await deps.webhooks.subscribe({ url: slow.url, events: ['app.disabled'] }, 'admin');
    await deps.webhooks.subscribe({ url: fast.url, events: ['*'] }, 'admin');
    await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
    worker.start();
    assert.ok(await until(() => slow.hung === 1 && fast.received.length === 1, 2000), 'both attempts under way');
    await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
    const t0 = Date.now();
    assert.ok(await until(() => fast.received.length === 2, 1500), `the second event reached the fast receiver after ${Date.now() - t0} ms, while the slow one was still waited for`);
  } finally {
    const stopped = worker.stop();
    await slow.close();
    await stopped;
    await fast.close();
    await deps.store.close();
  }
});
