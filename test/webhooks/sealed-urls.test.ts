/**
 * Webhook subscription URLs at rest (webhooks/sealed-urls.ts): a receiver's credential is
 * often in its URL, so the store keeps the URL sealed, bound to its subscription; the
 * service and the worker see it in clear; rows stored in clear before are sealed at
 * start and still delivered to; the audit trail names the origin only.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { sealStoredUrls } from '../../src/webhooks/sealed-urls.js';
import { WebhookService } from '../../src/webhooks/service.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-sealed-urls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, timeoutMs: 5000, allowPrivateTargets: true };

test('a subscription URL is stored sealed, read back in clear, and audited as its origin only', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'a.db')}`, newMasterKey(), clock);
  try {
    const audit = new MemoryAuditSink();
    const service = new WebhookService(deps.hooks, audit, clock, silentLogger, { allowPrivateTargets: true });
    const url = 'https://hooks.example.com/services/T01/B02/s3cr3t-path-token?sig=q-secret';
    const hook = await service.subscribe({ url, events: ['*'] }, 'admin');
    const stored = (await deps.store.getWebhook(hook.id))!.url;
    assert.match(stored, /^pc1\./);
    assert.doesNotMatch(stored, /s3cr3t|q-secret|hooks\.example/);
    assert.equal((await service.get(hook.id)).url, url);
    assert.deepEqual((await service.list()).map((w) => w.url), [url]);
    assert.deepEqual(audit.events.at(-1)?.data, { id: hook.id, origin: 'https://hooks.example.com', events: ['*'] });
    // sealed for its own row: moved to another subscription it does not open
    await deps.store.insertWebhook({ id: 'wh_moved', url: stored, events: ['*'], description: null, createdAt: clock.now() });
    await assert.rejects(service.get('wh_moved'), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.decrypt-failed');
  } finally {
    await deps.store.close();
  }
});

test('a subscription stored in clear before URLs were sealed is sealed at start, and its events still arrive', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'b.db')}`, newMasterKey(), clock);
  const rx = await startReceiver('/hooks/in');
  try {
    await deps.store.insertWebhook({ id: 'wh_legacy', url: `${rx.url}?token=legacy`, events: ['*'], description: null, createdAt: clock.now() });
    assert.equal(await sealStoredUrls(deps.store, deps.envelope), 1);
    assert.match((await deps.store.getWebhook('wh_legacy'))!.url, /^pc1\./);
    assert.equal(await sealStoredUrls(deps.store, deps.envelope), 0, 'sealed rows are left alone');
    await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
    assert.equal(await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, W).runOnce(), 1);
    assert.equal(rx.received.at(-1)?.url, '/hooks/in?token=legacy');
  } finally {
    await rx.close();
    await deps.store.close();
  }
});

test('a subscription whose sealed URL does not open (a row moved or tampered with) holds back no other subscriber: their events are queued and delivered; its own delivery fails as crypto.decrypt-failed with backoff, then for good', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'c.db')}`, newMasterKey(), clock);
  const rx = await startReceiver('/hooks/good');
  try {
    const good = await deps.webhooks.subscribe({ url: `${rx.url}?token=good`, events: ['*'] }, 'admin');
    const sealed = (await deps.store.getWebhook(good.id))!.url;
    // sealed for wh_good's row: under another id it does not open
    await deps.store.insertWebhook({ id: 'wh_moved', url: sealed, events: ['*'], description: null, createdAt: clock.now() });
    assert.equal(await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' }), 2);
    const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, maxAttempts: 2 });
    assert.equal(await worker.runOnce(), 2);
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0]?.url, '/hooks/good?token=good');
    assert.equal((await deps.store.listDeliveries(good.id, 10))[0]?.status, 'delivered');
    const [moved] = await deps.store.listDeliveries('wh_moved', 10);
    assert.deepEqual({ status: moved?.status, attempts: moved?.attempts, lastError: moved?.lastError, lastStatus: moved?.lastStatus }, { status: 'pending', attempts: 1, lastError: 'crypto.decrypt-failed', lastStatus: null });
    assert.equal(moved?.nextAttemptAt, clock.now() + 1000, 'backs off like any failed attempt');
    clock.advance(1000);
    assert.equal(await worker.runOnce(), 1);
    const [gone] = await deps.store.listDeliveries('wh_moved', 10);
    assert.deepEqual({ status: gone?.status, attempts: gone?.attempts }, { status: 'failed', attempts: 2 });
    assert.equal(rx.received.length, 1, 'nothing was sent for the row that does not open');
  } finally {
    await rx.close();
    await deps.store.close();
  }
});
