/**
 * An acknowledged change has its audit trail, including the record that its webhook
 * deliveries could not be queued. The `webhook.enqueue-failed` marker was recorded only
 * once the change's flush had taken its batch, so the change got its 2xx with the marker
 * still in the audit queue: a node killed (kill -9) right after that answer kept the
 * change while nothing said its subscribers never got the event.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { auditedChange } from '../../src/audit/change.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { WebhookService } from '../../src/webhooks/service.js';
import type { WebhookStore } from '../../src/webhooks/store.js';
import { startTestNode } from '../admin/node.js';

test('crash safety: a change whose webhook deliveries cannot be written is answered only once its webhook.enqueue-failed marker is stored', async (t) => {
  // frozen on a whole second: revoke-tokens answers at once, with no wait for the next second (in which the background write ran)
  const node = await startTestNode({ clock: new FrozenClock(1_800_000_000_000) });
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'), { readonly: true });
  t.after(async () => {
    other.close();
    await node.close();
  });
  const hook = await node.api('/v1/webhooks', { body: { url: 'https://hooks.example/in', events: ['app.tokens-revoked'] } });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const created = await node.api('/v1/apps', { body: { name: 'billing', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(created.status, 201);
  // the delivery queue's write fails (the enqueue-failure test's store), after the change's own audit write is
  // done (a write that times out); the audit table still takes writes
  const store = node.node.services.store as unknown as Record<string, unknown>;
  store['insertDeliveries'] = async () => {
    await new Promise((r) => setTimeout(r, 50));
    throw Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' });
  };
  const r = await node.api(`/v1/apps/${created.body.client_id}/revoke-tokens`, { body: {} });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // what a kill -9 right after the answer would leave on disk: read at once, no waiting
  const rows = other.prepare("select type, time, client_id, data from audit_log where type in ('app.tokens-revoked', 'webhook.enqueue-failed') order by seq").all() as Array<{ type: string; time: number; client_id: string | null; data: string }>;
  assert.deepEqual(rows.map((x) => [x.type, x.client_id]), [
    ['app.tokens-revoked', created.body.client_id],
    ['webhook.enqueue-failed', created.body.client_id],
  ]);
  assert.deepEqual(JSON.parse(rows[1]!.data), { event: 'app.tokens-revoked', record: 'app.tokens-revoked', recordTime: Number(rows[0]!.time), error: 'ETIMEDOUT' });
});

test('a change whose webhook.enqueue-failed marker is dropped (audit queue full) is refused audit.unavailable, not acknowledged without it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-wh-enqueue-'));
  const store = await openDurableStore(`sqlite:${join(dir, 'a.db')}`);
  try {
    const clock = new FrozenClock(1_800_000_000_000);
    const trail = new AuditTrail(store, silentLogger, { maxQueue: 3 });
    let fail!: () => void;
    const failing: WebhookStore = Object.assign(Object.create(store) as WebhookStore, {
      insertDeliveries: () => new Promise<never>((_, reject) => (fail = () => reject(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })))),
    });
    const webhooks = new WebhookService(failing, trail, clock, silentLogger);
    webhooks.attach(trail);
    await webhooks.subscribe({ url: 'https://hooks.example/in', events: ['token.revoked'] }, 'admin');
    await trail.flush();
    const flushed = auditedChange(() => {
      trail.record({ time: clock.now(), type: 'token.revoked', actor: 'admin', clientId: 'billing', data: { jti: 'j1' } });
      return trail.flush();
    });
    while (fail === undefined) await new Promise((r) => setImmediate(r));
    // other requests fill the queue while the delivery write is in flight: the marker finds no room
    for (let i = 0; i < 3; i++) trail.record({ time: clock.now(), type: 'test.filler', actor: 'system' });
    fail();
    await assert.rejects(flushed, (e) => e instanceof PortcullisError && e.code === 'audit.unavailable');
    const types = (await store.tailAudit(10)).map((r) => r.type);
    assert.ok(types.includes('token.revoked') && types.includes('audit.dropped'), types.join(', '));
    assert.ok(!types.includes('webhook.enqueue-failed'), types.join(', '));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
