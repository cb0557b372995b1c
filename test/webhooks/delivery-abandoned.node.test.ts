/**
 * A real node's worker gives up a delivery to a receiver that always answers 500 after its
 * 12 attempts (default backoff, run on a frozen clock advanced to each retry): the audit
 * trail holds one `webhook.delivery-abandoned` without the URL, and /metrics counts it in
 * `portcullis_webhook_deliveries_abandoned_total`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver, type Receiver } from './helpers.js';

const METRIC = /^portcullis_webhook_deliveries_abandoned_total (\d+)$/m;
const URL_SECRET = 'tok3n-in-the-url';

let t: TestNode;
let rx: Receiver;
const clock = new FrozenClock(Date.now());
before(async () => {
  t = await startTestNode({ clock, config: 'webhooks: { allowPrivateTargets: true }\n' });
  rx = await startReceiver(`/in?token=${URL_SECRET}`, Array(50).fill(500));
});
after(async () => {
  await rx.close();
  await t.close();
});

test('a delivery given up after 12 attempts is audited once as webhook.delivery-abandoned, without the URL, and counted on /metrics', { timeout: 120_000 }, async () => {
  const metric = async () => Number(METRIC.exec(String((await t.api('/metrics', { token: null })).body))?.[1]);
  assert.equal(await metric(), 0);
  const hook = (await t.api('/v1/webhooks', { body: { url: rx.url, events: ['app.tokens-revoked'] } })).body.webhook.id as string;
  const app = (await t.api('/v1/apps', { body: { name: 'hooked', audiences: ['api'] } })).body.client_id as string;
  assert.equal((await t.api(`/v1/apps/${app}/revoke-tokens`, { method: 'POST' })).status, 200);

  const store = t.node.services.store;
  let d: Awaited<ReturnType<typeof store.getDelivery>>;
  // the node's worker ticks every second; between attempts the clock is moved to the next one
  for (const end = Date.now() + 90_000; Date.now() < end; await sleep(50)) {
    const id = (await store.listDeliveries(hook, 1))[0]?.id;
    d = id === undefined ? undefined : await store.getDelivery(id);
    if (d?.status === 'failed') break;
    if (d?.status === 'pending' && d.leaseUntil === 0 && d.nextAttemptAt > clock.now()) clock.set(d.nextAttemptAt);
  }
  assert.equal(d?.status, 'failed');
  assert.equal(d.attempts, 12);
  assert.equal(d.lastError, 'HTTP 500');

  let rows: Array<{ type: string; actor: string; data: Record<string, unknown> }> = [];
  for (const end = Date.now() + 10_000; rows.length === 0 && Date.now() < end; await sleep(50)) {
    rows = (await t.api('/v1/audit/tail?limit=50')).body.rows.filter((e: { type: string }) => e.type === 'webhook.delivery-abandoned');
  }
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.actor, 'system');
  assert.deepEqual(rows[0]!.data, { webhookId: hook, deliveryId: d.id, event: 'app.tokens-revoked', attempts: 12, lastError: 'HTTP 500', origin: new URL(rx.url).origin });
  assert.ok(!JSON.stringify(rows[0]).includes(URL_SECRET));
  assert.equal(await metric(), 1);
  assert.equal(rx.received.length, 12);
});
