/**
 * At-least-once across a crash: an admin change answers once `audit.flush()` resolved,
 * so the webhook deliveries its audit records raise must be in the durable queue by
 * then. Before, they were queued in the background, after the answer: a node killed
 * (kill -9) in between had acknowledged a revocation whose webhook was never sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditTrail } from '../../src/audit/trail.js';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { WebhookService } from '../../src/webhooks/service.js';
import type { WebhookStore } from '../../src/webhooks/store.js';

test('crash safety: once the audit trail is flushed, the webhook deliveries of the flushed records are in the durable queue', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-wh-durable-'));
  const store = await openDurableStore(`sqlite:${join(dir, 'a.db')}`);
  try {
    const clock = new FrozenClock(1_800_000_000_000);
    const trail = new AuditTrail(store, silentLogger);
    // the queue's write takes longer than the audit append (a PostgreSQL round trip under load)
    const slow: WebhookStore = Object.assign(Object.create(store) as WebhookStore, {
      insertDeliveries: async (d: Parameters<WebhookStore['insertDeliveries']>[0]) => {
        await new Promise((r) => setTimeout(r, 100));
        return store.insertDeliveries(d);
      },
    });
    const webhooks = new WebhookService(slow, trail, clock, silentLogger, { allowPrivateTargets: true });
    webhooks.attach(trail);
    const hook = await webhooks.subscribe({ url: 'https://hooks.example/in', events: ['token.revoked'] }, 'admin');
    trail.record({ time: clock.now(), type: 'token.revoked', actor: 'admin', clientId: 'billing', data: { jti: 'j1' } });
    await trail.flush();
    // what a kill -9 right after the admin API's answer would leave on disk
    const queued = await store.listDeliveries(hook.id, 10);
    assert.deepEqual(queued.map((d) => [d.eventType, d.status]), [['token.revoked', 'pending']]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
