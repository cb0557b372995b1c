/**
 * A webhook event that cannot be queued (the store refuses the write) is lost to its
 * subscribers; the audit trail must say so, not only a log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import type { AuditEventInput } from '../../src/audit/store.js';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { WebhookService } from '../../src/webhooks/service.js';
import type { WebhookStore } from '../../src/webhooks/store.js';

test('a webhook event the store cannot queue is audited as webhook.enqueue-failed (event type, source record, driver error code), without the record\'s data or the error message', async () => {
  const down = (): Promise<never> => Promise.reject(Object.assign(new Error('connection refused: postgres://portcullis:db-pass@db/portcullis'), { code: 'ECONNREFUSED' }));
  const store = { listWebhookEvents: down, insertDeliveries: down } as unknown as WebhookStore;
  const audit = new MemoryAuditSink();
  const listeners: Array<(e: AuditEventInput) => void> = [];
  const service = new WebhookService(store, audit, new FrozenClock(1_800_000_000_000), silentLogger);
  service.attach({ onRecord: (l) => listeners.push(l) });
  const revoked: AuditEventInput = { time: 1_800_000_000_000, type: 'certificate.revoked', actor: 'admin', clientId: 'billing', data: { serial: 'ab12', reason: 'keyCompromise' } };
  for (const l of listeners) l(revoked);
  for (const l of listeners) l({ time: 1_800_000_000_000, type: 'gateway.allowed', actor: 'anonymous' });
  await service.flush();
  assert.equal(audit.events.length, 1, JSON.stringify(audit.events));
  const e = audit.events[0]!;
  assert.equal(e.type, 'webhook.enqueue-failed');
  assert.equal(e.actor, 'system');
  assert.equal(e.clientId, 'billing');
  assert.deepEqual(e.data, { event: 'certificate.revoked', record: 'certificate.revoked', recordTime: 1_800_000_000_000, error: 'ECONNREFUSED' });
  assert.ok(!JSON.stringify(audit.events).includes('db-pass'));
});
