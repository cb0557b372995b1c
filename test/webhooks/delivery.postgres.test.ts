/** Two delivery workers (two store instances, as two nodes) on one PostgreSQL never send the same delivery twice. */
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';
import { sealedWebhookStore } from '../../src/webhooks/sealed-urls.js';

await serviceTest('postgres', 'webhooks on PostgreSQL: two workers on two connections racing over 40 due deliveries send each exactly once', async () => {
  const db = await createTempPostgresDatabase();
  const rx = await startReceiver();
  const clock = new FrozenClock(Date.now());
  const a = await openDeps(db.url, newMasterKey(), clock);
  const storeB = await openDurableStore(db.url);
  try {
    const hook = await a.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
    for (let i = 0; i < 40; i++) await a.webhooks.enqueue('token.revoked', { time: clock.now(), type: 'token.revoked', actor: 'admin', clientId: `c${i}`, data: { jti: `j${i}` } });
    const opts = { batch: 7, jitter: 0, baseDelayMs: 1000, allowPrivateTargets: true };
    const w1 = new DeliveryWorker(a.hooks, a.signer, clock, silentLogger, { ...opts, owner: 'node-1' });
    const w2 = new DeliveryWorker(sealedWebhookStore(storeB, a.envelope), a.signer, clock, silentLogger, { ...opts, owner: 'node-2' });
    let attempted = 0;
    for (let round = 0; round < 20 && attempted < 40; round++) {
      const [x, y] = await Promise.all([w1.runOnce(), w2.runOnce()]);
      attempted += x + y;
    }
    const ids = rx.received.map((r) => String(r.headers['portcullis-delivery']));
    assert.equal(ids.length, 40);
    assert.equal(new Set(ids).size, 40, 'no delivery was sent twice');
    const log = await a.webhooks.deliveries(hook.id, { limit: 100 });
    assert.equal(log.length, 40);
    assert.ok(log.every((d) => d.status === 'delivered' && d.attempts === 1));
    assert.equal(attempted, 40);
  } finally {
    await rx.close();
    await storeB.close();
    await a.store.close();
    await db.drop();
  }
});
