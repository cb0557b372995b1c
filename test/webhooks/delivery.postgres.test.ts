/** Two delivery workers (two store instances, as two nodes) on one PostgreSQL never send the same delivery twice. */
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';
import { sealedWebhookStore } from '../../src/webhooks/sealed-urls.js';
import { MemoryAuditSink } from '../../src/audit/sink.js';

type Deps = Awaited<ReturnType<typeof openDeps>>;
type Receiver = Awaited<ReturnType<typeof startReceiver>>;
interface TwoNodes {
  a: Deps;
  rx: Receiver;
  clock: FrozenClock;
  hookId: string;
  /** A delivery worker per node (node-1 on `a`'s store, node-2 on a second connection), each with its own audit sink. */
  workers(opts: Omit<ConstructorParameters<typeof DeliveryWorker>[4], 'owner' | 'audit'>): { w1: DeliveryWorker; w2: DeliveryWorker; auditA: MemoryAuditSink; auditB: MemoryAuditSink };
}

/**
 * Two nodes on one temporary PostgreSQL database: a subscription to everything at a
 * receiver answering `statuses`, `events` deliveries enqueued for it; closed and dropped after `run`.
 */
async function withTwoNodes(events: number, statuses: number[] | undefined, run: (n: TwoNodes) => Promise<void>): Promise<void> {
  const db = await createTempPostgresDatabase();
  const rx = statuses === undefined ? await startReceiver() : await startReceiver('/in', statuses);
  const clock = new FrozenClock(Date.now());
  const a = await openDeps(db.url, newMasterKey(), clock);
  const storeB = await openDurableStore(db.url);
  try {
    const hook = await a.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
    for (let i = 0; i < events; i++) await a.webhooks.enqueue('token.revoked', { time: clock.now(), type: 'token.revoked', actor: 'admin', clientId: `c${i}`, data: { jti: `j${i}` } });
    await run({
      a,
      rx,
      clock,
      hookId: hook.id,
      workers(opts) {
        const auditA = new MemoryAuditSink();
        const auditB = new MemoryAuditSink();
        const w1 = new DeliveryWorker(a.hooks, a.signer, clock, silentLogger, { ...opts, owner: 'node-1', audit: auditA });
        const w2 = new DeliveryWorker(sealedWebhookStore(storeB, a.envelope), a.signer, clock, silentLogger, { ...opts, owner: 'node-2', audit: auditB });
        return { w1, w2, auditA, auditB };
      },
    });
  } finally {
    await rx.close();
    await storeB.close();
    await a.store.close();
    await db.drop();
  }
}

await serviceTest('postgres', 'webhooks on PostgreSQL: two workers on two connections racing over 40 due deliveries send each exactly once', async () => {
  await withTwoNodes(40, undefined, async ({ a, rx, hookId, workers }) => {
    const { w1, w2 } = workers({ batch: 7, jitter: 0, baseDelayMs: 1000, allowPrivateTargets: true });
    let attempted = 0;
    for (let round = 0; round < 20 && attempted < 40; round++) {
      const [x, y] = await Promise.all([w1.runOnce(), w2.runOnce()]);
      attempted += x + y;
    }
    const ids = rx.received.map((r) => String(r.headers['portcullis-delivery']));
    assert.equal(ids.length, 40);
    assert.equal(new Set(ids).size, 40, 'no delivery was sent twice');
    const log = await a.webhooks.deliveries(hookId, { limit: 100 });
    assert.equal(log.length, 40);
    assert.ok(log.every((d) => d.status === 'delivered' && d.attempts === 1));
    assert.equal(attempted, 40);
  });
});

await serviceTest('postgres', 'webhooks on PostgreSQL: two workers racing over 20 deliveries to a receiver that always answers 500 give each up once: one webhook.delivery-abandoned per delivery across both nodes', async () => {
  await withTwoNodes(20, Array(200).fill(500), async ({ a, rx, clock, hookId, workers }) => {
    // never disabled here (subscription-disabled below): every delivery runs to its last attempt
    const { w1, w2, auditA, auditB } = workers({ batch: 7, jitter: 0, baseDelayMs: 1000, maxAttempts: 2, allowPrivateTargets: true, disableAfterAbandoned: 1000 });
    for (let round = 0; round < 20; round++) {
      await Promise.all([w1.runOnce(), w2.runOnce()]);
      clock.advance(5000);
    }
    assert.equal(rx.received.length, 40, 'each delivery sent maxAttempts times');
    const log = await a.webhooks.deliveries(hookId, { limit: 100 });
    assert.ok(log.every((d) => d.status === 'failed' && d.attempts === 2));
    const given = [...auditA.events, ...auditB.events].filter((e) => e.type === 'webhook.delivery-abandoned');
    assert.deepEqual(given.map((e) => e.data!.deliveryId).sort(), log.map((d) => d.id).sort());
    assert.ok(given.every((e) => e.data!.lastError === 'HTTP 500' && e.data!.attempts === 2));
    assert.equal(w1.stats.abandoned + w2.stats.abandoned, 20);
  });
});

await serviceTest('postgres', 'webhooks on PostgreSQL: two workers abandoning deliveries of one subscription at once disable it once: one webhook.subscription-disabled across both nodes, and its other deliveries end unsent', async () => {
  await withTwoNodes(20, Array(200).fill(500), async ({ a, rx, clock, hookId, workers }) => {
    const { w1, w2, auditA, auditB } = workers({ batch: 7, jitter: 0, baseDelayMs: 1000, maxAttempts: 1, allowPrivateTargets: true, disableAfterAbandoned: 5 });
    for (let round = 0; round < 10; round++) {
      await Promise.all([w1.runOnce(), w2.runOnce()]);
      clock.advance(5000);
    }
    const all = [...auditA.events, ...auditB.events];
    assert.equal(all.filter((e) => e.type === 'webhook.subscription-disabled').length, 1, 'disabled once');
    assert.equal(w1.stats.disabled + w2.stats.disabled, 1);
    assert.ok((await a.webhooks.get(hookId)).disabledAt !== null);
    const log = await a.webhooks.deliveries(hookId, { limit: 100 });
    assert.ok(log.every((d) => d.status === 'failed'), 'nothing left pending');
    const abandoned = all.filter((e) => e.type === 'webhook.delivery-abandoned').length;
    assert.ok(abandoned >= 5 && abandoned < 20, `abandoned ${abandoned}: the first claims, not every delivery`);
    assert.equal(rx.received.length, abandoned, 'the ended ones were never sent');
    assert.equal(log.filter((d) => d.lastError === 'webhook-disabled').length, 20 - abandoned);
  });
});
