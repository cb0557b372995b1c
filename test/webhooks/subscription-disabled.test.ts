/**
 * A subscription whose endpoint is dead for good used to be sent every event for ever, each
 * delivery retried to its limit and abandoned. After `disableAfterAbandoned` consecutive
 * abandoned deliveries it is now disabled: once (one `webhook.subscription-disabled`, without
 * the URL), counted in `stats.disabled`, and no event is queued for it until an operator
 * enables it again (`webhook.subscription-enabled`, count reset). A delivery that succeeds
 * in between resets the count.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { PortcullisError } from '../../src/core/errors.js';
import { WebhookService } from '../../src/webhooks/service.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-webhooks-disabled-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const URL_SECRET = 'tok3n-in-the-url';
const OPTS: DeliveryWorkerOptions = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, maxAttempts: 2, allowPrivateTargets: true, disableAfterAbandoned: 3 };
const EVENT = { type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' } as const;
const of = (sink: MemoryAuditSink, type: string) => sink.events.filter((e) => e.type === type);

/** A loopback port nothing listens on (bound, then closed): every connection is refused. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function setup(name: string) {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, `${name}.db`)}`, newMasterKey(), clock);
  const audit = new MemoryAuditSink();
  const webhooks = new WebhookService(deps.hooks, audit, clock, silentLogger, { allowPrivateTargets: true });
  const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...OPTS, audit });
  /** Runs the worker until nothing is due, moving the clock to each retry. */
  const drain = async () => {
    for (let i = 0; i < 20; i++) {
      if ((await worker.runOnce()) === 0) return;
      clock.advance(60_000);
    }
  };
  const close = async () => {
    await worker.stop();
    await deps.store.close();
  };
  return { clock, deps, audit, webhooks, worker, drain, close };
}

describe('webhook subscription disabled after consecutive abandoned deliveries', () => {
  test('a subscription to a closed loopback port is disabled at the limit, once, without the URL in the audit; it is queued nothing more and sent nothing more', async () => {
    const t = await setup('dead');
    try {
      const url = `http://127.0.0.1:${await closedPort()}/hooks/${URL_SECRET}?token=${URL_SECRET}`;
      const hook = await t.webhooks.subscribe({ url, events: ['app.tokens-revoked'] }, 'admin');
      const other = await t.webhooks.subscribe({ url: url.replace('/hooks/', '/other/'), events: ['user.locked'] }, 'admin');
      for (let i = 1; i <= 2; i++) {
        assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 1);
        await t.drain();
        assert.equal((await t.webhooks.get(hook.id)).consecutiveAbandoned, i);
        assert.equal(of(t.audit, 'webhook.subscription-disabled').length, 0, `not disabled after ${i}`);
      }
      // the last two at once: both abandoned by the same tick, the third disables it, the fourth finds it disabled
      for (let i = 0; i < 2; i++) assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 1);
      await t.drain();
      assert.equal(of(t.audit, 'webhook.delivery-abandoned').length, 4);
      assert.equal(t.worker.stats.abandoned, 4);

      const disabled = of(t.audit, 'webhook.subscription-disabled');
      assert.equal(disabled.length, 1, 'one audit event');
      assert.equal(t.worker.stats.disabled, 1);
      const e = disabled[0]!;
      assert.equal(e.actor, 'system');
      assert.equal(e.reason, 'webhook.subscription-disabled');
      assert.deepEqual(e.data, { webhookId: hook.id, consecutiveAbandoned: 3, limit: 3, lastError: 'ECONNREFUSED', origin: new URL(url).origin });
      assert.ok(!JSON.stringify(e).includes(URL_SECRET), 'no path or query of the URL');

      const w = await t.webhooks.get(hook.id);
      assert.ok(w.disabledAt !== null && w.disabledAt <= t.clock.now());
      assert.match(w.disabledReason!, /^3 consecutive deliveries abandoned \(last error ECONNREFUSED\)$/);
      assert.equal((await t.webhooks.get(other.id)).disabledAt, null, 'another subscription is untouched');

      // no new deliveries: nothing is queued for it, and the worker has nothing to do
      const before = (await t.webhooks.deliveries(hook.id)).length;
      assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 0);
      assert.equal((await t.webhooks.deliveries(hook.id)).length, before);
      t.clock.advance(3_600_000);
      assert.equal(await t.worker.runOnce(), 0);
      assert.equal(of(t.audit, 'webhook.subscription-disabled').length, 1);
      assert.equal(of(t.audit, 'webhook.delivery-abandoned').length, 4);
    } finally {
      await t.close();
    }
  });

  test('a delivery queued for it as it was disabled is ended, not sent: failed with webhook-disabled, not counted as abandoned', async () => {
    const t = await setup('queued');
    const rx = await startReceiver('/in', Array(20).fill(500));
    try {
      const hook = await t.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      for (let i = 0; i < 3; i++) assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 1);
      await t.drain();
      assert.ok((await t.webhooks.get(hook.id)).disabledAt !== null);
      const sent = rx.received.length;
      assert.equal(sent, 6, 'two attempts each');
      // an event read the subscriptions before the disable and wrote its delivery after it
      const [last] = await t.webhooks.deliveries(hook.id);
      await t.deps.hooks.insertDeliveries([{ ...last!, id: 'dlv_late', status: 'pending', attempts: 0, nextAttemptAt: t.clock.now(), lastStatus: null, lastError: null, createdAt: t.clock.now() + 1 }]);
      assert.equal(await t.worker.runOnce(), 1);
      const d = await t.deps.hooks.getDelivery('dlv_late');
      assert.deepEqual([d!.status, d!.lastError], ['failed', 'webhook-disabled']);
      assert.equal(rx.received.length, sent, 'not sent');
      assert.equal(of(t.audit, 'webhook.delivery-abandoned').length, 3);
      assert.equal(of(t.audit, 'webhook.subscription-disabled').length, 1);
    } finally {
      await rx.close();
      await t.close();
    }
  });

  test('enable: the subscription is queued for and delivered to again, audited as webhook.subscription-enabled with the count reset; enabling an active one changes nothing', async () => {
    const t = await setup('enable');
    const rx = await startReceiver('/in', Array(6).fill(500));
    try {
      const hook = await t.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      for (let i = 0; i < 3; i++) await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() });
      await t.drain();
      assert.ok((await t.webhooks.get(hook.id)).disabledAt !== null);

      const on = await t.webhooks.enable(hook.id, 'admin');
      assert.deepEqual([on.disabledAt, on.disabledReason, on.consecutiveAbandoned], [null, null, 0]);
      const enabled = of(t.audit, 'webhook.subscription-enabled');
      assert.equal(enabled.length, 1);
      assert.equal(enabled[0]!.actor, 'admin');
      assert.deepEqual(enabled[0]!.data, { id: hook.id });

      assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 1);
      await t.drain();
      const [d] = await t.webhooks.deliveries(hook.id);
      assert.equal(d!.status, 'delivered');

      await t.webhooks.enable(hook.id, 'admin');
      assert.equal(of(t.audit, 'webhook.subscription-enabled').length, 1, 'no event for a subscription that was not disabled');
      await assert.rejects(t.webhooks.enable('wh_none', 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'not-found');
    } finally {
      await rx.close();
      await t.close();
    }
  });

  test('a delivery that succeeds between abandoned ones resets the count: not disabled after limit abandoned deliveries in all', async () => {
    const t = await setup('reset');
    // two abandoned (two 500s each), one delivered, two abandoned
    const rx = await startReceiver('/in', [500, 500, 500, 500, 200, 500, 500, 500, 500]);
    try {
      const hook = await t.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) {
        await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() });
        await t.drain();
        counts.push((await t.webhooks.get(hook.id)).consecutiveAbandoned);
      }
      assert.deepEqual(counts, [1, 2, 0, 1, 2]);
      assert.equal(of(t.audit, 'webhook.delivery-abandoned').length, 4);
      assert.equal(of(t.audit, 'webhook.subscription-disabled').length, 0);
      assert.equal((await t.webhooks.get(hook.id)).disabledAt, null);
      assert.equal(await t.webhooks.enqueue(EVENT.type, { ...EVENT, time: t.clock.now() }), 1, 'still queued for');
    } finally {
      await rx.close();
      await t.close();
    }
  });
});
