/**
 * Webhooks on a real node: subscribed through the admin API (and the CLI), raised by
 * admin actions through the audit trail, delivered by the node's worker, signed with
 * a key the identity plane publishes at /jwks, and visible in the delivery log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyWebhook } from '../../src/sdk/index.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';
import { startReceiver, type Receiver } from './helpers.js';

let t: TestNode;
let rx: Receiver;
before(async () => {
  // receivers on 127.0.0.1: the explicit opt-in
  t = await startTestNode({ config: 'webhooks: { allowPrivateTargets: true }\n' });
  rx = await startReceiver('/portcullis/events');
});
after(async () => {
  await rx.close();
  await t.close();
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, limitMs = 5000): Promise<T> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} did not happen within ${limitMs} ms`);
}

test('admin API: an app tokens revocation and a disable reach the subscriber signed with a JWKS key; the delivery log shows them delivered', async () => {
  const sub = await t.api('/v1/webhooks', { body: { url: rx.url, events: ['app.tokens-revoked', 'app.disabled'], description: 'ops' } });
  assert.equal(sub.status, 201);
  const id = sub.body.webhook.id as string;
  assert.deepEqual(sub.body.webhook.events, ['app.disabled', 'app.tokens-revoked']);

  const app = (await t.api('/v1/apps', { body: { name: 'hooked', audiences: ['api'] } })).body.client_id as string;
  assert.equal((await t.api(`/v1/apps/${app}/revoke-tokens`, { method: 'POST' })).status, 200);
  assert.equal((await t.api(`/v1/apps/${app}/disable`, { method: 'POST' })).status, 200);

  await until('two deliveries', () => (rx.received.length >= 2 ? true : undefined));
  const jwksUrl = `${t.identity}/jwks`;
  const types: string[] = [];
  for (const r of rx.received) {
    const { event, keyid } = await verifyWebhook(rx.asRequest(r), { jwksUrl });
    assert.equal(event.client_id, app);
    types.push(event.type);
    const published = (await (await fetch(jwksUrl)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(published.keys.some((k) => k.kid === keyid), 'the keyid is published in the identity plane JWKS');
  }
  assert.deepEqual(types.sort(), ['app.disabled', 'app.tokens-revoked']);

  const log = await until('delivery log', async () => {
    const r = await t.api(`/v1/webhooks/${id}/deliveries`);
    return r.body.deliveries.length === 2 && r.body.deliveries.every((d: any) => d.status === 'delivered') ? r.body.deliveries : undefined;
  });
  for (const d of log) {
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status, 200);
    assert.equal(d.next_attempt_at, null);
  }
});

test('admin API: a key rotation raises key.rotated; removing the subscription stops deliveries and its log is gone (404)', async () => {
  const id = (await t.api('/v1/webhooks', { body: { url: rx.url, events: ['key.rotated'] } })).body.webhook.id as string;
  const before = rx.received.length;
  assert.equal((await t.api('/v1/keys/rotate', { method: 'POST' })).status, 200);
  const got = await until('key.rotated delivery', () => rx.received.slice(before).find((r) => r.body.toString().includes('"key.rotated"')));
  // An immediate rotation signs with a key created just now. A receiver whose JWKS is
  // cached refetches on the unknown keyid at most every minRefreshMs (default 30 s), so
  // with the default it would refuse this attempt and accept the retry; here it refetches at once.
  const { event } = await verifyWebhook(rx.asRequest(got), { jwksUrl: `${t.identity}/jwks`, minRefreshMs: 0 });
  assert.equal(event.type, 'key.rotated');
  assert.ok(typeof event.data.activated === 'string');

  const del = await t.api(`/v1/webhooks/${id}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, { removed: true, id });
  assert.equal((await t.api(`/v1/webhooks/${id}/deliveries`)).body.code, 'not-found');
  assert.equal((await t.api(`/v1/webhooks/${id}`, { method: 'DELETE' })).status, 404);
  const n = rx.received.length;
  await t.api('/v1/keys/rotate', { method: 'POST' });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(rx.received.filter((r, i) => i >= n && r.body.toString().includes('"key.rotated"')).length, 0);
});

test('admin API: the delivery log pages newest first with after/next_after, so every delivery can be read, not only the newest limit', async () => {
  const id = (await t.api('/v1/webhooks', { body: { url: rx.url, events: ['app.tokens-revoked'] } })).body.webhook.id as string;
  const app = (await t.api('/v1/apps', { body: { name: 'paged', audiences: ['api'] } })).body.client_id as string;
  for (let i = 0; i < 3; i++) assert.equal((await t.api(`/v1/apps/${app}/revoke-tokens`, { method: 'POST' })).status, 200);
  const all = await until('three deliveries', async () => {
    const r = await t.api(`/v1/webhooks/${id}/deliveries`);
    return r.body.deliveries.length === 3 ? (r.body.deliveries as Array<{ id: string }>) : undefined;
  });
  const first = await t.api(`/v1/webhooks/${id}/deliveries?limit=2`);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.deliveries.map((d: { id: string }) => d.id), all.slice(0, 2).map((d) => d.id));
  assert.equal(typeof first.body.next_after, 'string');
  const second = await t.api(`/v1/webhooks/${id}/deliveries?limit=2&after=${encodeURIComponent(first.body.next_after)}`);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.deepEqual(second.body.deliveries.map((d: { id: string }) => d.id), [all[2]!.id]);
  assert.equal(second.body.next_after, null);
});

test('admin API: unknown event types and non-http URLs are refused with request.invalid', async () => {
  const bad = await t.api('/v1/webhooks', { body: { url: rx.url, events: ['everything'] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'request.invalid');
  const ftp = await t.api('/v1/webhooks', { body: { url: 'ftp://hooks.example/x', events: ['*'] } });
  assert.equal(ftp.body.code, 'request.invalid');
});

test('the OpenAPI document describes the webhook routes, DELETE included', async () => {
  const doc = (await t.api('/openapi.json', { token: null })).body;
  assert.equal(doc.paths['/v1/webhooks'].post.operationId, 'createWebhook');
  assert.equal(doc.paths['/v1/webhooks/{id}'].delete.operationId, 'removeWebhook');
  assert.equal(doc.paths['/v1/webhooks/{id}/deliveries'].get.operationId, 'listWebhookDeliveries');
});

test('cli: webhooks add, list, deliveries and remove', async () => {
  const node = ['--dir', t.dir, '--admin-url', t.admin];
  const add = await runCli(['webhooks', 'add', rx.url, '--event', 'token.revoked', 'app.disabled', '--json', ...node]);
  assert.equal(add.code, 0, add.stderr);
  const hook = JSON.parse(add.stdout) as { id: string; events: string[] };
  assert.deepEqual(hook.events, ['app.disabled', 'token.revoked']);
  const list = await runCli(['webhooks', 'list', ...node]);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(hook.id) && list.stdout.includes(rx.url));
  const dl = await runCli(['webhooks', 'deliveries', hook.id, ...node]);
  assert.equal(dl.code, 0, dl.stderr);
  assert.match(dl.stdout, /no deliveries/);
  const rm = await runCli(['webhooks', 'remove', hook.id, ...node]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, new RegExp(`${hook.id} removed`));
  const again = await runCli(['webhooks', 'remove', hook.id, ...node]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: not-found: /m);
});

test('a disabled subscription: list and show (admin API and CLI) say so and why; enable (admin API and CLI) re-enables it, audited; /metrics has the counter', async () => {
  const node = ['--dir', t.dir, '--admin-url', t.admin];
  const hook = (await t.api('/v1/webhooks', { body: { url: rx.url, events: ['user.locked'] } })).body.webhook as { id: string; status: string; disabled_at: string | null };
  assert.equal(hook.status, 'active');
  assert.equal(hook.disabled_at, null);
  const store = t.node.services.store;
  const at = Date.now();
  // what the worker does when a delivery is abandoned (subscription-disabled.test.ts runs the worker)
  assert.deepEqual(await store.recordAbandoned(hook.id, 1, at, '1 consecutive deliveries abandoned (last error HTTP 500)'), { consecutive: 1, disabled: true });

  const shown = await t.api(`/v1/webhooks/${hook.id}`);
  assert.equal(shown.status, 200);
  assert.deepEqual(
    { ...shown.body.webhook, created_at: undefined },
    { id: hook.id, url: rx.url, events: ['user.locked'], description: null, created_at: undefined, status: 'disabled', disabled_at: new Date(at).toISOString(), disabled_reason: '1 consecutive deliveries abandoned (last error HTTP 500)', consecutive_abandoned: 1 },
  );
  assert.equal((await t.api('/v1/webhooks/wh_none')).status, 404);
  const listed = (await t.api('/v1/webhooks?limit=100')).body.webhooks.find((w: { id: string }) => w.id === hook.id);
  assert.equal(listed.status, 'disabled');

  const list = await runCli(['webhooks', 'list', ...node]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${hook.id}\\s.*\\sdisabled`));
  const show = await runCli(['webhooks', 'show', hook.id, ...node]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /status:\s+disabled/);
  assert.match(show.stdout, /1 consecutive deliveries abandoned \(last error HTTP 500\)/);

  const on = await t.api(`/v1/webhooks/${hook.id}/enable`, { method: 'POST' });
  assert.equal(on.status, 200);
  assert.equal(on.body.webhook.status, 'active');
  assert.equal(on.body.webhook.consecutive_abandoned, 0);
  const rows = (await t.api('/v1/audit/tail?limit=50')).body.rows.filter((e: { type: string }) => e.type === 'webhook.subscription-enabled');
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].data, { id: hook.id });
  assert.equal((await t.api('/v1/webhooks/wh_none/enable', { method: 'POST' })).status, 404);

  await store.recordAbandoned(hook.id, 1, at, 'again');
  const enable = await runCli(['webhooks', 'enable', hook.id, ...node]);
  assert.equal(enable.code, 0, enable.stderr);
  assert.match(enable.stdout, new RegExp(`${hook.id} enabled`));
  assert.equal((await t.api(`/v1/webhooks/${hook.id}`)).body.webhook.status, 'active');

  const metrics = String((await t.api('/metrics', { token: null })).body);
  assert.match(metrics, /^portcullis_webhook_subscriptions_disabled_total 0$/m);
  await t.api(`/v1/webhooks/${hook.id}`, { method: 'DELETE' });
});
